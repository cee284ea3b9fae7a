// Joint inference on real processes: a real nats-server with operator JWTs and TLS, two real
// agent processes with their own node credentials, the real PP-OCR direction classifier. The
// edge node serves `ocr-lite` (int8, static quantization) with `ocr-full` (the fp32 original,
// served by the other node) as its escalation tier; its credential carries the `escalate:`
// grant for it. Assignments are written straight into the assignments bucket and hello is
// answered by a stand-in, so no control plane is needed.
//
// Asserted: a hard input (the edge model's own confidence below the rule's threshold, computed
// here with the agent's scorer) comes back from the big tier's node marked escalated/answered;
// an easy one from the edge marked edge/none; the same over the edge's KServe v2 REST endpoint;
// the counters reach the heartbeat; a node without the `escalate:` grant answers hard inputs
// itself, marked unavailable, and the server sees no refused publish; and after the big tier's
// agent is killed, hard inputs get the edge answer back, marked, within their deadline.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import * as ort from 'onnxruntime-node';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { Heartbeat, decode, subjects, type Assignment, type EscalationCounters, type WorkloadAssignment } from '@edgeplane/api';
import { controlPlaneResponder, startNats, tempDir, type NatsServer, type Responder } from '@edgeplane/env';
import { escalateTag, serveTag } from '@edgeplane/trust';
import { classificationScores } from '../../agent/src/cascade/score.ts';
import { ppocrFile } from '../../cli/src/model/ocr/models.ts';
import { isCurrentQuantization } from '../../cli/src/model/manifest.ts';
import { quantizeModel } from '../../cli/src/model/quantize/pipeline.ts';
import { waitFor } from '../helpers/agent.ts';
import { sha256, startAgentChild, type AgentChild } from '../faults/lib/failure-kit.ts';
import { CLS_CACHE, EASY, HARD, SHAPE, THRESHOLD, expectMarkedFallbacks, inferOver, type Reply } from './escalation-inputs.ts';

const NS = 'esc';
const run = `esc-${Date.now().toString(36)}`;
const EDGE_NODE = `${run}-edge`;
const BIG_NODE = `${run}-big`;
const DEADLINE_MS = 3000;

let nats: NatsServer;
let admin: NatsConnection;
let client: NatsConnection;
let kv: KV;
let responder: Responder;
let dir: Awaited<ReturnType<typeof tempDir>>;
let edgeAgent: AgentChild;
let bigAgent: AgentChild;
let noGrantAgent: AgentChild | undefined;
let os: ObjectStore;
let modelCache: string;
let edgeModel: ort.InferenceSession;
const edgeReports: EscalationCounters[] = [];

const variant = (name: string, precision: 'fp32' | 'int8', bytes: Uint8Array) => ({
  name,
  precision,
  profile: 'full' as const,
  uri: `nats-obj://ep-models/${name}.onnx`,
  sha256: sha256(bytes),
  sizeBytes: bytes.byteLength,
  memoryMiB: 16,
});

const workload = (deployment: string, v: ReturnType<typeof variant>, over: Partial<WorkloadAssignment> = {}): WorkloadAssignment => ({
  key: `${NS}/${deployment}`,
  namespace: NS,
  deployment,
  model: 'ppocr-cls',
  task: 'text-direction-classification',
  variant: v,
  accelerator: 'cpu0',
  maxBatch: 1,
  maxQueueDelayMs: 0,
  latencySloMs: 200,
  ...over,
});

async function assign(node: string, workloads: WorkloadAssignment[]): Promise<void> {
  const doc: Assignment = { v: 1, node, workloads, issuedAtMs: Date.now() };
  await kv.put(node, JSON.stringify(doc));
}

const infer = (deployment: string, x: Float32Array, deadlineMs = DEADLINE_MS): Promise<Reply> => inferOver(client, NS, deployment, x, deadlineMs);

/** The edge model's own answer and confidence, computed here with the agent's scorer. */
async function edgeScore(x: Float32Array): Promise<{ probs: number[]; confidence: number }> {
  const out = await edgeModel.run({ x: new ort.Tensor('float32', x, SHAPE) });
  const probs = Float32Array.from(Object.values(out)[0]!.data as Float32Array);
  return { probs: Array.from(probs), confidence: classificationScores({ shape: [1, 2], data: probs })[0]!.confidence };
}

function showLogsOnFailure(): void {
  onTestFailed(() => {
    for (const a of [edgeAgent, bigAgent, noGrantAgent]) if (a) console.log(`--- ${a.node}\n${a.proc.tail(40)}`);
  });
}

beforeAll(async () => {
  // The classifier's variants, quantized once per machine (as `make up` does) and cached.
  const cache = (modelCache = CLS_CACHE);
  if (!isCurrentQuantization(cache)) {
    await quantizeModel(ppocrFile('cls'), { out: cache, name: 'ppocr-v4-cls', task: 'cls', shape: new Map([['x', SHAPE]]), calibration: { method: 'percentile', percentile: 99.99, samples: 64 }, force: true });
  }
  const full = new Uint8Array(readFileSync(join(cache, 'ppocr-v4-cls-fp32.onnx')));
  const lite = new Uint8Array(readFileSync(join(cache, 'ppocr-v4-cls-int8-static.onnx')));
  edgeModel = await ort.InferenceSession.create(lite, { intraOpNumThreads: 1 });

  dir = await tempDir('ep-escalation-');
  nats = await startNats();
  admin = await connect({ ...(await nats.connectOptions('admin')), name: 'escalation-admin' });
  client = await connect({ ...(await nats.connectOptions('client')), name: 'escalation-client' });
  kv = await new Kvm(admin).create('ep-assignments', { history: 1, allow_direct: true });
  os = await new Objm(admin).create('ep-models', { storage: 'file' });
  await os.putBlob({ name: 'ocr-full.onnx', options: { max_chunk_size: 64 * 1024 } }, full);
  await os.putBlob({ name: 'ocr-lite.onnx', options: { max_chunk_size: 64 * 1024 } }, lite);
  responder = controlPlaneResponder(admin);
  admin.subscribe(subjects.status(EDGE_NODE), {
    callback: (_err, msg) => {
      const d = decode(Heartbeat, 'heartbeat', msg.data);
      const e = d.ok ? d.value.workloads?.find((w) => w.key === `${NS}/ocr-lite`)?.escalation : undefined;
      if (e) edgeReports.push(e);
    },
  });
  await admin.flush();

  // The credentials carry their grants from the start, as the control plane would sign them.
  [bigAgent, edgeAgent] = await Promise.all([
    startAgentChild({ nats, node: BIG_NODE, run, dir: dir.path, cacheDir: join(dir.path, 'big-cache'), tags: [serveTag(NS, 'ocr-full')] }),
    startAgentChild({ nats, node: EDGE_NODE, run, dir: dir.path, cacheDir: join(dir.path, 'edge-cache'), tags: [serveTag(NS, 'ocr-lite'), escalateTag(NS, 'ocr-full')] }),
  ]);
  await assign(BIG_NODE, [workload('ocr-full', variant('ocr-full', 'fp32', full))]);
  await assign(EDGE_NODE, [
    workload('ocr-lite', variant('ocr-lite', 'int8', lite), {
      escalation: {
        deployment: 'ocr-full',
        rule: { confidenceBelow: THRESHOLD },
        budget: { requestsPerSecond: 50, bytesPerSecond: 16 * 2 ** 20, meteredFactor: 0.1 },
        waitForAnswer: true,
      },
    }),
  ]);
  // Both tiers serve once each answers over NATS.
  try {
    for (const d of ['ocr-full', 'ocr-lite']) {
      await waitFor(`${d} answering`, async () => {
        const r = await infer(d, EASY);
        if (r.status !== '200') throw new Error(`${d} answered ${JSON.stringify(r)}`);
        return true;
      }, 60_000, 200);
    }
  } catch (err) {
    for (const a of [edgeAgent, bigAgent]) console.log(`--- ${a.node}\n${a.proc.tail(30)}`);
    throw err;
  }
}, 180_000);

afterAll(async () => {
  await Promise.all([edgeAgent?.proc.stop(), bigAgent?.proc.stop(), noGrantAgent?.proc.stop()]);
  responder?.stop();
  await client?.close();
  await admin?.close();
  await nats?.stop();
  await dir?.remove();
  await edgeModel?.release();
}, 30_000);

describe('joint inference across two real agents', () => {
  it('the inputs are what the test says: the edge model is unsure of the hard one, sure of the easy one', async () => {
    expect((await edgeScore(HARD)).confidence).toBeLessThan(THRESHOLD);
    expect((await edgeScore(EASY)).confidence).toBeGreaterThan(THRESHOLD);
  });

  it("a hard input is answered by the big tier's node (escalated/answered), an easy one by the edge (edge/none)", async () => {
    showLogsOnFailure();
    const hard = await infer('ocr-lite', HARD);
    expect(hard).toMatchObject({ status: '200', tier: 'escalated', escalation: 'answered', node: BIG_NODE });
    // The big tier's own answer, asked directly.
    const big = await infer('ocr-full', HARD);
    expect(big.node).toBe(BIG_NODE);
    hard.probs.forEach((p, i) => expect(p).toBeCloseTo(big.probs[i]!, 5));

    const easy = await infer('ocr-lite', EASY);
    expect(easy).toMatchObject({ status: '200', tier: 'edge', escalation: 'none', node: EDGE_NODE });
    const own = await edgeScore(EASY);
    easy.probs.forEach((p, i) => expect(p).toBeCloseTo(own.probs[i]!, 4));
  });

  it('the KServe v2 REST endpoint of the edge node answers the same way, marked in parameters and headers', async () => {
    const post = async (x: Float32Array) => {
      const res = await fetch(`${edgeAgent.http}/v2/models/ocr-lite/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ep-deadline-ms': String(DEADLINE_MS) },
        body: JSON.stringify({ inputs: [{ name: 'x', shape: SHAPE, datatype: 'FP32', data: Array.from(x) }] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { parameters?: Record<string, string> };
      return { tier: res.headers.get('ep-tier'), parameters: body.parameters };
    };
    expect(await post(HARD)).toEqual({ tier: 'escalated', parameters: { 'ep-tier': 'escalated', 'ep-escalation': 'answered', 'ep-node': BIG_NODE } });
    expect(await post(EASY)).toEqual({ tier: 'edge', parameters: { 'ep-tier': 'edge', 'ep-escalation': 'none' } });
  });

  it("the edge node's heartbeat carries its escalation counters", async () => {
    const last = await waitFor('escalation counters in a heartbeat', () => {
      const e = edgeReports.at(-1);
      return e && e.answered >= 2 ? e : undefined;
    }, 10_000, 100);
    expect(last.requests).toBeGreaterThanOrEqual(4);
    expect(last.escalated).toBe(last.answered);
    expect(last.bytesUp).toBe(last.escalated * HARD.byteLength);
    expect(last.failed).toBe(0);
  });

  it('a node whose credential lacks the escalate grant answers hard inputs itself, marked unavailable, and sends nothing the server would refuse', async () => {
    showLogsOnFailure();
    const node = `${run}-nogrant`;
    // Serves its own deployment, escalating to ocr-full, without `escalate:esc.ocr-full`; the
    // renewal it asks for finds no control plane here, so the grant never comes.
    noGrantAgent = await startAgentChild({ nats, node, run, dir: dir.path, cacheDir: join(dir.path, 'nogrant-cache'), tags: [serveTag(NS, 'ocr-lite2')] });
    const lite = new Uint8Array(readFileSync(join(modelCache, 'ppocr-v4-cls-int8-static.onnx')));
    await os.putBlob({ name: 'ocr-lite2.onnx', options: { max_chunk_size: 64 * 1024 } }, lite);
    await assign(node, [workload('ocr-lite2', variant('ocr-lite2', 'int8', lite), { escalation: { deployment: 'ocr-full', rule: { confidenceBelow: THRESHOLD }, budget: { requestsPerSecond: 50, bytesPerSecond: 16 * 2 ** 20, meteredFactor: 0.1 }, waitForAnswer: true } })]);
    await waitFor('ocr-lite2 answering', async () => (await infer('ocr-lite2', EASY)).status === '200', 60_000, 200);
    const hard = await infer('ocr-lite2', HARD);
    expect(hard).toMatchObject({ status: '200', tier: 'edge', escalation: 'unavailable', node });
    // The agent's log arrives through a pipe: wait for the line rather than read it at once.
    await waitFor('the agent logged the missing grant', () => noGrantAgent!.logLines().some((l) => typeof l.msg === 'string' && l.msg.includes('does not grant escalating')), 5_000, 50);

    const serverLog = join(nats.dir, 'nats-server.log');
    const violations = () => readFileSync(serverLog, 'utf8').split('\n').filter((l) => /violation/i.test(l) && l.includes(subjects.infer(NS, 'ocr-full'))).length;
    expect(violations()).toBe(0);
    // The check can fail: the same publish from a node connection without the grant is refused and logged.
    const stray = await connect({ ...(await nats.connectOptions({ node: `${run}-stray`, tags: [] })), name: 'stray' });
    stray.publish(subjects.infer(NS, 'ocr-full'), new Uint8Array(4));
    await stray.flush().catch(() => undefined);
    await waitFor('the stray publish refused in the server log', () => violations() > 0, 5_000, 100);
    await stray.close();
  });

  it('the big tier killed mid-run: hard inputs get the edge answer back, marked unavailable or timeout, within their deadline', async () => {
    showLogsOnFailure();
    // Invariant: every reply of an escalating workload arrives within the request's deadline and
    // says which tier answered; when the escalation tier cannot answer, the answer is the edge
    // model's own, marked, never an error and never late.
    const deadlineMs = 1500;
    const edge = await edgeScore(HARD);
    const replies: Reply[] = [];
    let killed = false;
    let fallbacks = 0;
    const started = Date.now();
    while (fallbacks < 3 && Date.now() - started < 20_000) {
      if (!killed && replies.length >= 2) {
        await bigAgent.proc.kill('SIGKILL');
        killed = true;
      }
      const r = await infer('ocr-lite', HARD, deadlineMs);
      replies.push(r);
      if (killed && r.tier === 'edge') fallbacks++;
    }
    expect(killed).toBe(true);
    expect(fallbacks).toBe(3);
    expectMarkedFallbacks(replies, { deadlineMs, bigNode: BIG_NODE, edgeNodes: [EDGE_NODE], edgeProbs: edge.probs });
    // Before the kill the big tier answered; after it, only the edge does.
    expect(replies.slice(0, 2).every((r) => r.tier === 'escalated')).toBe(true);
    expect(replies.at(-1)!.tier).toBe('edge');
  });
});
