// Helpers for the agent's integration tests: a recording workload manager (the workload
// side is not a server, so a test double stands in for it), a minimal control-plane hello
// and probe responder, a byte-counting TCP relay in front of nats-server, and polling.
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Hello, HelloReply, decode, encode, subjects, type AcceleratorLoad, type Assignment, type WorkloadReport } from '@edgeplane/api';
import type { WorkloadManager } from '../../agent/src/workloads/types.ts';
import type { AgentConfig } from '../../agent/src/config.ts';

export const fixtureRoot = (name: string) => fileURLToPath(new URL(`../../agent/fixtures/${name}`, import.meta.url));

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

export interface Responder {
  hellos: Hello[];
  probes: number[];
  stop(): void;
}

/**
 * Answers hello as the control plane would, refusing the first `refuse` ones, and the
 * bandwidth probe with the byte count it received.
 */
export function controlPlaneResponder(nc: NatsConnection, reply: Partial<HelloReply> = {}, refuse = 0): Responder {
  const hellos: Hello[] = [];
  const probes: number[] = [];
  const subs: Subscription[] = [
    nc.subscribe(subjects.allHello, {
      callback: (_err, msg) => {
        const decoded = decode(Hello, 'hello', msg.data);
        if (!decoded.ok) return;
        hellos.push(decoded.value);
        const accepted = hellos.length > refuse;
        msg.respond(encode(HelloReply, 'hello reply', { v: 1, accepted, heartbeatIntervalMs: 200, fullEvery: 12, ...reply, ...(accepted ? {} : { accepted, reason: 'control plane not leading yet' }) }));
      },
    }),
    nc.subscribe(subjects.allProbe, {
      callback: (_err, msg) => {
        probes.push(msg.data.length);
        msg.respond(JSON.stringify({ bytes: msg.data.length }));
      },
    }),
  ];
  return { hellos, probes, stop: () => subs.forEach((s) => s.unsubscribe()) };
}

/** Polls `fn` until it returns a truthy value; bounded wait, no speed asserted. */
export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
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
