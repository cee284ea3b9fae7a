// Helpers for the agent's integration tests: a recording workload manager (the workload
// side is not a server, so a test double stands in for it) and a byte-counting TCP relay in front
// of nats-server; the hello responder and polling come from the environment (env/src/agent-harness.ts).
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { type AcceleratorLoad, type Assignment, type WorkloadReport } from '@edgeplane/api';
import { fixtureRoot, until } from '@edgeplane/env';
export { fixtureRoot, controlPlaneResponder, until, tempDir, type Responder } from '@edgeplane/env';
import type { WorkloadManager } from '../../agent/src/workloads/types.ts';
import type { AgentConfig } from '../../agent/src/config.ts';

export function testLogger(): Logger {
  return pino({ level: process.env.EP_TEST_LOG_LEVEL ?? 'silent' });
}

export interface RecordingManager extends WorkloadManager {
  readonly applied: Assignment[];
  closed: boolean;
}

/** Records every apply; reports each assigned workload as Ready on an idle accelerator. */
export function recordingManager(): RecordingManager {
  const applied: Assignment[] = [];
  const m: RecordingManager = {
    applied,
    closed: false,
    async apply(assignment) {
      applied.push(structuredClone(assignment));
    },
    reports(): WorkloadReport[] {
      const last = applied.at(-1);
      return (last?.workloads ?? []).map((w) => ({ key: w.key, variant: w.variant.name, accelerator: w.accelerator, phase: 'Ready' }));
    },
    load(): AcceleratorLoad[] {
      return [{ id: 'cpu0', util: 0, queue: 0 }];
    },
    cachedArtifacts: () => [],
    async close() {
      m.closed = true;
    },
  };
  return m;
}

export function agentConfig(over: Partial<AgentConfig> & Pick<AgentConfig, 'node' | 'natsUrl' | 'stateDir'>): AgentConfig {
  return {
    root: fixtureRoot('x86-vnni-server'),
    cacheDir: join(over.stateDir, 'cache'),
    cacheMaxBytes: 64 * 2 ** 20,
    httpAddr: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
    linkProbeIntervalMs: 3_600_000,
    fileRoots: [],
    maxRequestBytes: 8 * 2 ** 20,
    maxTensorElements: 2 ** 24,
    trust: { requireSignature: false, publicKeys: [] },
    ...over,
  };
}

/**
 * A TCP relay on loopback that counts bytes each way, so a test measures what a node puts on
 * its link, NATS protocol lines and keepalives included.
 */
export interface CountingRelay {
  url: string;
  counts(): { toServer: number; toClient: number };
  reset(): void;
  close(): Promise<void>;
}

export async function countingRelay(targetPort: number): Promise<CountingRelay> {
  let toServer = 0;
  let toClient = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d) => (toServer += d.length));
    upstream.on('data', (d) => (toClient += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `nats://127.0.0.1:${port}`,
    counts: () => ({ toServer, toClient }),
    reset() {
      toServer = 0;
      toClient = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface IdleRate {
  heartbeats: number;
  bytes: { toServer: number; toClient: number };
  /** Average bytes on the link per heartbeat, both directions, protocol included. */
  bytesPerHeartbeat: number;
  /** The same link use at another heartbeat interval, bits per second. */
  bitsPerSecondAt(intervalMs: number): number;
}

/**
 * Counts what an idle, connected agent puts on its link over `heartbeats` heartbeats
 * (whole `fullEvery` cycles, so full ones weigh in at their share). Keepalive PING/PONG
 * pairs (client and server, every 2 min each, 6 bytes per line in a TLS 1.3 record of 22 more)
 * are added at their rate.
 */
export async function measureIdleRate(relay: CountingRelay, heartbeatCount: () => number, heartbeats: number): Promise<IdleRate> {
  const start = heartbeatCount();
  relay.reset();
  await until(() => heartbeatCount() >= start + heartbeats, `${heartbeats} heartbeats`, 120_000);
  const bytes = relay.counts();
  const bytesPerHeartbeat = (bytes.toServer + bytes.toClient) / heartbeats;
  const keepaliveBytesPerSecond = (2 * 2 * (6 + 22)) / 120;
  return {
    heartbeats,
    bytes,
    bytesPerHeartbeat,
    bitsPerSecondAt: (intervalMs) => ((bytesPerHeartbeat * 1000) / intervalMs + keepaliveBytesPerSecond) * 8,
  };
}

/** An assignment document for `node` with one small workload of `deployment`, as a control plane writes it. */
export function assignmentDoc(node: string, deployment: string, issuedAtMs: number, term?: number): Assignment {
  return {
    v: 1,
    node,
    issuedAtMs,
    ...(term === undefined ? {} : { term }),
    workloads: [
      {
        key: `vision/${deployment}`,
        namespace: 'vision',
        deployment,
        model: 'm',
        task: 'classification',
        variant: { name: 'fp32', precision: 'fp32', profile: 'full', uri: 'nats-obj://ep-models/m', sha256: 'c'.repeat(64), sizeBytes: 1000, memoryMiB: 16 },
        accelerator: 'cpu0',
        maxBatch: 1,
        maxQueueDelayMs: 0,
        latencySloMs: 50,
      },
    ],
  };
}
