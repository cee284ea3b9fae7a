// The inputs of the joint-inference tests and the edge model's own view of them: one text line
// the int8 PP-OCR direction classifier is sure of, one it hesitates on, and the agent's scorer
// to prove which is which. Shared by the end-to-end tests so both escalate the same examples.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { inferHeaders, subjects } from '@edgeplane/api';
import { classificationScores } from '../../agent/src/cascade/score.ts';
import { seededRandom } from '../../cli/src/random.ts';
import { textLine } from '../../scripts/up/demo.ts';

/** The classifier's input shape: one line, 3 channels, 48 x 192. */
export const SHAPE = [1, 3, 48, 192];
/** The rule: an answer whose top class probability is below this is hard. */
export const THRESHOLD = 0.9;

/** Where `make up` and the tests keep the classifier's quantized variants. */
export const CLS_CACHE = join(process.env.EDGEPLANE_CACHE ?? join(homedir(), '.cache', 'edgeplane'), 'models', 'ppocr-v4-cls');

/** A text line as the classifier's input, its contrast scaled and noise added (seeded). */
export function line(text: string, rotated: boolean, contrast = 1, noise = 0): Float32Array {
  const x = textLine(text, rotated, 3);
  const rand = seededRandom(7);
  return x.map((v) => v * contrast + (rand() - 0.5) * noise);
}

// A clean upright line: the int8 edge is sure. The same kind of line turned over, at 15 %
// contrast in heavy noise: the edge hesitates between the two directions.
export const EASY = line('invoice 4471 paid', false);
export const HARD = line('edgeplane keeps models at the edge', true, 0.15, 0.8);

export interface EdgeScorer {
  /** The edge model's answer and its confidence, as the agent's scorer computes it. */
  score(x: Float32Array): Promise<{ probs: number[]; confidence: number }>;
  release(): Promise<void>;
}

/** The int8 (static) edge variant from the cache, scored here with the agent's own scorer. */
export async function edgeScorer(file = join(CLS_CACHE, 'ppocr-v4-cls-int8-static.onnx')): Promise<EdgeScorer> {
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)), { intraOpNumThreads: 1 });
  return {
    async score(x) {
      const out = await session.run({ x: new ort.Tensor('float32', x, SHAPE) });
      const probs = Float32Array.from(Object.values(out)[0]!.data as Float32Array);
      return { probs: Array.from(probs), confidence: classificationScores({ shape: [1, 2], data: probs })[0]!.confidence };
    },
    release: () => session.release(),
  };
}

/** One inference reply as the tests read it: status, the marks, the node and the output. */
export interface Reply {
  status: string;
  tier: string;
  escalation: string;
  node: string;
  probs: number[];
  ms: number;
}

/** One input to a deployment's inference subject with a deadline, timed from the client. */
export async function inferOver(client: NatsConnection, namespace: string, deployment: string, x: Float32Array, deadlineMs: number): Promise<Reply> {
  const h = natsHeaders();
  h.set(inferHeaders.tensors, JSON.stringify([{ name: 'x', datatype: 'FP32', shape: SHAPE }]));
  h.set(inferHeaders.deadlineMs, String(deadlineMs));
  const started = performance.now();
  // The client waits longer than the deadline, so a late reply shows as late, not as lost.
  const msg = await client.request(subjects.infer(namespace, deployment), new Uint8Array(x.buffer, x.byteOffset, x.byteLength), { headers: h, timeout: deadlineMs + 2000 });
  const ms = performance.now() - started;
  const get = (k: string) => msg.headers?.get(k) ?? '';
  const status = get(inferHeaders.status);
  if (status === '200' && msg.data.byteLength % 4 !== 0) throw new Error(`reply of ${msg.data.byteLength} bytes for tensors ${get(inferHeaders.tensors)}`);
  // A copy: the reply's bytes may be a view into a larger buffer, at any offset.
  const probs = status === '200' ? Array.from(new Float32Array(new Uint8Array(msg.data).buffer)) : [];
  return { status, tier: get(inferHeaders.tier), escalation: get(inferHeaders.escalation), node: get(inferHeaders.node), probs, ms };
}

/**
 * What every reply must be while the big tier cannot answer (or only just could): a 200 within
 * its deadline that says which tier answered; an escalated one from the big tier's node, an edge
 * one marked unavailable or timeout, from an edge node, and the edge model's own answer.
 */
export function expectMarkedFallbacks(replies: readonly Reply[], o: { deadlineMs: number; bigNode: string; edgeNodes: readonly string[]; edgeProbs: readonly number[] }): void {
  for (const r of replies) {
    expect(r.status).toBe('200');
    expect(r.ms).toBeLessThan(o.deadlineMs);
    if (r.tier === 'escalated') {
      expect(r).toMatchObject({ escalation: 'answered', node: o.bigNode });
    } else {
      expect(r.tier).toBe('edge');
      expect(['unavailable', 'timeout']).toContain(r.escalation);
      expect(o.edgeNodes).toContain(r.node);
      r.probs.forEach((p, i) => expect(p).toBeCloseTo(o.edgeProbs[i]!, 4));
    }
  }
}
