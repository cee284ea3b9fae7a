// Pieces of the failure scenarios: the real agent command as a child process on a hardware
// fixture (its own node credential, a cache directory the test chooses), tiny ONNX variants in
// the object store, a deployment over them, and readers for its status, Events and the
// agent's JSON log.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, EMD_KIND, type EdgeModelDeploymentInput, type Precision } from '@edgeplane/api';
import { freePort, repoRoot, startProcess, type NatsServer, type ServerProcess } from '@edgeplane/env';
import type { ObjectStore } from '@nats-io/obj';
import { waitFor } from '../../helpers/agent.ts';
import { agentNats } from '@edgeplane/env';
import { tinyModel } from '../../../agent/src/runtime/fixtures/tiny-models.ts';
import { ppocrClassifier } from '../../../agent/src/runtime/fixtures/ppocr.ts';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface AgentChild {
  node: string;
  proc: ServerProcess;
  http: string;
  /** The agent's log lines parsed as JSON (pino), oldest first. */
  logLines(): Array<Record<string, unknown> & { msg?: string; time?: number }>;
}

export interface AgentChildOptions {
  nats: NatsServer;
  node: string;
  /** Label value the control plane's node selector (`edgeplane.io/test-run`) matches. */
  run: string;
  dir: string;
  cacheDir: string;
  /** NATS URL to use instead of the server's own (a proxy in front of it). */
  natsUrl?: string;
  /** Log file name (without .log) when the node runs more than once in a test; default the node. */
  logName?: string;
  /** `serve:` tags its credential carries from the start (inference over NATS without a renewal). */
  tags?: string[];
}

/** The agent's own command (`agent/src/cli.ts` through tsx), as a node runs it. */
export async function startAgentChild(o: AgentChildOptions): Promise<AgentChild> {
  const s = await agentNats(o.nats, o.node, o.tags);
  const override = join(o.dir, `${o.node}-override.json`);
  writeFileSync(override, JSON.stringify({ labels: { 'edgeplane.io/test-run': o.run }, power: { source: 'mains' }, network: { type: 'ethernet', bandwidthMbps: 1000, metered: false } }));
  const port = await freePort();
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  const args = [
    '--import', tsx, join(repoRoot, 'agent', 'src', 'cli.ts'),
    '--node', o.node,
    '--root', join(repoRoot, 'agent', 'fixtures', 'x86-vnni-server'),
    '--override-file', override,
    '--nats-url', o.natsUrl ?? s.natsUrl,
    '--nats-creds', s.natsCreds,
    '--nats-ca', s.natsCa,
    '--state-dir', join(o.dir, `${o.node}-state`),
    '--cache-dir', o.cacheDir,
    '--http-addr', `127.0.0.1:${port}`,
    // gRPC on a port of its own: its default (HTTP's port + 1) may be another agent's HTTP port.
    '--grpc-addr', '127.0.0.1:0',
    '--log-level', 'info',
  ];
  const proc = startProcess(o.logName ?? o.node, process.execPath, args, o.dir);
  const child: AgentChild = {
    node: o.node,
    proc,
    http: `http://127.0.0.1:${port}`,
    logLines: () => {
      let text = '';
      try {
        text = readFileSync(proc.logFile, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return {};
          }
        });
    },
  };
  // Placed only once its EdgeNode exists: wait for the control plane to accept its hello.
  await waitFor(`${o.node}'s hello accepted`, () => child.logLines().some((l) => l.msg === 'hello accepted') || (!proc.alive() && Promise.reject(new Error(proc.tail()))), 30_000, 100);
  return child;
}

export interface Variant {
  name: string;
  precision: Precision;
  accuracy: number;
  bytes: Uint8Array;
  /** The digest the spec names; the bytes in the store may differ (a corrupted artifact). */
  sha256: string;
}

/** A tiny model of this precision, tagged so every variant has its own digest. */
export function tinyVariant(name: string, precision: Precision, accuracy: number): Variant {
  const bytes = tinyModel({ precision, tag: name }).bytes;
  return { name, precision, accuracy, bytes, sha256: sha256(bytes) };
}

/** An artifact of `sizeBytes` that is no model: for scenarios where it must never get as far as loading. */
export function blobVariant(name: string, precision: Precision, accuracy: number, sizeBytes: number): Variant {
  const bytes = randomBytes(sizeBytes);
  return { name, precision, accuracy, bytes, sha256: sha256(bytes) };
}

/** A real model (the PP-OCR direction classifier, about 0.6 MB): big enough to interrupt a download of. */
export function classifierVariant(name: string, accuracy: number): Variant {
  const bytes = ppocrClassifier();
  return { name, precision: 'fp32', accuracy, bytes, sha256: sha256(bytes) };
}

export async function pushVariant(os: ObjectStore, v: Variant, stored: Uint8Array = v.bytes): Promise<void> {
  await os.putBlob({ name: `${v.name}.onnx`, options: { max_chunk_size: 64 * 1024 } }, stored);
}

export function deployment(namespace: string, name: string, variants: Variant[]): EdgeModelDeploymentInput {
  return {
    apiVersion: API_VERSION,
    kind: EMD_KIND,
    metadata: { name, namespace },
    spec: {
      model: {
        name,
        task: 'regression',
        variants: variants.map((v) => ({
          name: v.name,
          precision: v.precision,
          profile: 'full' as const,
          uri: `nats-obj://ep-models/${v.name}.onnx`,
          sha256: v.sha256,
          sizeBytes: v.bytes.byteLength,
          accuracy: v.accuracy,
          gflops: 0.001,
          memoryMiB: 1,
        })),
      },
      replicas: 1,
      slo: { latencyMs: 1000, minAccuracy: 0.5 },
    },
  };
}

export interface EventSummary {
  reason: string;
  type: string;
  note: string;
}

export async function eventsOf(kc: KubeConfig, namespace: string, name: string): Promise<EventSummary[]> {
  const list = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  return list.items.filter((e) => e.regarding?.name === name).map((e) => ({ reason: e.reason ?? '', type: e.type ?? '', note: e.note ?? '' }));
}
