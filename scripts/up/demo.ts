// The OCR-line demo that `make up` runs and the end-to-end test repeats headless: publish the
// PP-OCR classifier's variants, deploy them, classify text lines through NATS and through an
// agent's KServe v2 endpoint, and watch tiers change as a battery drains and a link changes.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { inferHeaders, subjects, type EdgeModelDeployment } from '@edgeplane/api';
import type { DeploymentDetail } from '@edgeplane/control-plane';
import { parse } from 'yaml';
import { quantizeModel } from '../../cli/src/model/quantize/pipeline.ts';
import { isCurrentQuantization } from '../../cli/src/model/manifest.ts';
import { pushDir, type PushedObject } from '../../cli/src/model/push/push.ts';
import { ppocrFile } from '../../cli/src/model/ocr/models.ts';
import { lineTensor } from '../../cli/src/model/ocr/preprocess.ts';
import { renderLine } from '../../cli/src/model/samples/lines.ts';
import { rotate180 } from '../../cli/src/model/samples/image.ts';
import { seededRandom } from '../../cli/src/random.ts';
import type { ApiEndpoint } from './api-token.ts';
import type { NatsServer } from '@edgeplane/env';
import { SIGNING_DIR, signVariants } from './signing.ts';
import { repoRoot } from '@edgeplane/env';

export const OCR_EXAMPLE = join(repoRoot, 'deploy', 'examples', 'ocr-line.yaml');
const CLS_HEIGHT = 48;
const CLS_WIDTH = 192;

/** A pushed variant with its signature by the demo's signing key. */
export type SignedObject = PushedObject & { signature?: string };

/**
 * Quantizes the PP-OCR direction classifier (once; the variants are cached beside the
 * servers), pushes every variant into the `ep-models` object store and signs each one.
 */
export async function publishOcrVariants(nats: Pick<NatsServer, 'url' | 'credsFile' | 'caFile'>, log: (line: string) => void): Promise<SignedObject[]> {
  const cache = join(process.env.EDGEPLANE_CACHE ?? join(homedir(), '.cache', 'edgeplane'), 'models', 'ppocr-v4-cls');
  if (!isCurrentQuantization(cache)) {
    log(`quantizing the PP-OCR direction classifier into ${cache} (first time only)`);
    await quantizeModel(ppocrFile('cls'), { out: cache, name: 'ppocr-v4-cls', task: 'cls', shape: new Map([['x', [1, 3, CLS_HEIGHT, CLS_WIDTH]]]), calibration: { method: 'percentile', percentile: 99.99, samples: 64 }, force: true, log });
  }
  // Writing the store is an administrator's right, never a node's.
  const pushed = await pushDir(cache, { natsUrl: nats.url, natsCreds: await nats.credsFile('admin'), natsCa: nats.caFile ?? undefined, progress: log });
  const signatures = await signVariants(cache);
  log(`signed ${signatures.size} variants with ${SIGNING_DIR}/cosign.key (the agents load only what cosign.pub verifies)`);
  return pushed.map((p) => ({ ...p, signature: signatures.get(p.variant) }));
}

/**
 * The OCR-line example with each variant's uri, sha256, size and signature taken from what was
 * pushed, so what the agents fetch is exactly what the store holds and what was signed.
 */
export function ocrDeployment(pushed: readonly SignedObject[]): EdgeModelDeployment {
  const doc = parse(readFileSync(OCR_EXAMPLE, 'utf8')) as EdgeModelDeployment;
  for (const v of doc.spec.model.variants) {
    const p = pushed.find((o) => o.variant === v.name);
    if (!p) throw new Error(`variant ${v.name} of ${OCR_EXAMPLE} was not produced by the quantizer (have: ${pushed.map((o) => o.variant).join(', ')})`);
    Object.assign(v, { uri: p.uri, sha256: p.sha256, sizeBytes: p.sizeBytes, ...(p.signature ? { signature: p.signature } : {}) });
  }
  return doc;
}

/** One row per placement, from the control plane's read API (placements plus live telemetry). */
export interface Row {
  node: string;
  accelerator: string;
  variant: string;
  precision: string;
  profile: string;
  phase: string;
  p99Ms?: number | undefined;
  battery: string;
  link: string;
  reason: string;
}

export async function deploymentDetail(api: ApiEndpoint, namespace: string, name: string): Promise<DeploymentDetail | null> {
  const res = await fetch(`${api.url}/api/v1/deployments/${namespace}/${name}`, { headers: { authorization: `Bearer ${api.token}` } });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET deployment: ${res.status} ${await res.text()}`);
  return (await res.json()) as DeploymentDetail;
}

export function rowsOf(detail: DeploymentDetail): Row[] {
  return detail.placements
    .map((p) => {
      const power = p.telemetry.power;
      return {
        node: p.node,
        accelerator: p.accelerator,
        variant: p.variant,
        precision: p.precision,
        profile: p.profile,
        phase: p.phase,
        p99Ms: p.telemetry.p99Ms ?? p.p99LatencyMs,
        battery: !power ? '?' : power.source === 'battery' ? `${Math.round(power.batteryPercent ?? 0)}%` : power.source,
        link: p.telemetry.network?.type ?? '?',
        reason: p.tierReason,
      };
    })
    .sort((a, b) => a.node.localeCompare(b.node));
}

export function formatRows(rows: readonly Row[]): string {
  const header = ['NODE', 'ACCELERATOR', 'VARIANT', 'PRECISION', 'PHASE', 'P99', 'BATTERY', 'LINK', 'WHY'];
  const cells = rows.map((r) => [r.node, r.accelerator, r.variant, `${r.precision}/${r.profile}`, r.phase, r.p99Ms === undefined ? '-' : `${r.p99Ms.toFixed(1)}ms`, r.battery, r.link, r.reason]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [header, ...cells].map((c) => c.map((v, i) => v.padEnd(widths[i]! + 2)).join('').trimEnd()).join('\n');
}

/** Polls the read API until every replica is Ready, or throws with the last status seen. */
export async function waitReady(api: ApiEndpoint, namespace: string, name: string, timeoutMs: number, onPoll?: (d: DeploymentDetail) => void): Promise<DeploymentDetail> {
  const deadline = Date.now() + timeoutMs;
  let last: DeploymentDetail | null = null;
  for (;;) {
    last = await deploymentDetail(api, namespace, name).catch(() => null);
    if (last) onPoll?.(last);
    if (last && last.replicas > 0 && last.readyReplicas === last.replicas) return last;
    if (Date.now() > deadline) throw new Error(`${namespace}/${name} not Ready within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls until `predicate` holds for the placement on `node`. */
export async function waitPlacement(api: ApiEndpoint, namespace: string, name: string, node: string, predicate: (r: Row) => boolean, timeoutMs: number): Promise<Row> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const detail = await deploymentDetail(api, namespace, name).catch(() => null);
    const row = detail ? rowsOf(detail).find((r) => r.node === node) : undefined;
    if (row && predicate(row)) return row;
    if (Date.now() > deadline) throw new Error(`placement of ${namespace}/${name} on ${node} did not change as expected within ${timeoutMs} ms; last: ${JSON.stringify(row)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A rendered text line as the classifier's input tensor, upright or turned 180 degrees. */
export function textLine(text: string, rotated: boolean, seed = 3): Float32Array {
  const img = renderLine(text, seededRandom(seed), CLS_HEIGHT);
  return lineTensor(rotated ? rotate180(img) : img, CLS_HEIGHT, CLS_WIDTH);
}

export interface Classified {
  rotated: boolean;
  scores: number[];
  node?: string | undefined;
  variant?: string | undefined;
}

/** The classifier's input name, from the agent's v2 model metadata. */
export async function inputName(agentHttp: string, model: string): Promise<string> {
  const res = await fetch(`${agentHttp}/v2/models/${model}`);
  if (!res.ok) throw new Error(`GET /v2/models/${model}: ${res.status} ${await res.text()}`);
  const meta = (await res.json()) as { inputs: Array<{ name: string }> };
  const name = meta.inputs[0]?.name;
  if (!name) throw new Error(`model ${model} declares no input`);
  return name;
}

/** Classifies through the agent's local KServe v2 REST endpoint. */
export async function classifyHttp(agentHttp: string, model: string, input: string, tensor: Float32Array): Promise<Classified> {
  const res = await fetch(`${agentHttp}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: input, shape: [1, 3, CLS_HEIGHT, CLS_WIDTH], datatype: 'FP32', data: Array.from(tensor) }] }),
  });
  if (!res.ok) throw new Error(`POST infer: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { outputs: Array<{ data: number[] }> };
  const scores = body.outputs[0]?.data ?? [];
  return { rotated: (scores[1] ?? 0) > (scores[0] ?? 0), scores };
}

/** Classifies through NATS: any node serving the deployment answers (queue group). */
export async function classifyNats(nc: NatsConnection, namespace: string, deployment: string, input: string, tensor: Float32Array): Promise<Classified> {
  const h = natsHeaders();
  h.set(inferHeaders.tensors, JSON.stringify([{ name: input, datatype: 'FP32', shape: [1, 3, CLS_HEIGHT, CLS_WIDTH] }]));
  const reply = await nc.request(subjects.infer(namespace, deployment), new Uint8Array(tensor.buffer, tensor.byteOffset, tensor.byteLength), { headers: h, timeout: 10_000 });
  const status = reply.headers?.get(inferHeaders.status);
  if (status !== '200') throw new Error(`inference over NATS failed: ${status} ${reply.headers?.get(inferHeaders.errorCode)} ${reply.headers?.get(inferHeaders.error)}`);
  const data = reply.data;
  const scores = Array.from(new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
  return { rotated: (scores[1] ?? 0) > (scores[0] ?? 0), scores, node: reply.headers?.get(inferHeaders.node), variant: reply.headers?.get(inferHeaders.variant) };
}

export { connect };
