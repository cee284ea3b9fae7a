// `npm run bench -- heartbeat --nodes 10000 [--seconds 10] [--conns 4] --json`
// Heartbeats of many simulated nodes through a real nats-server into a real redis-server,
// through the control plane's ingestion path (queue-group subscription, synchronous decode,
// pipelined Redis batches): first with JWT authentication and TLS (the control plane's own
// credentials, an administrator's for the publisher), then on the same work against a server
// without either, so the cost of security is measured in the same run. Last, a baseline on
// the secure server that awaits one Redis write per heartbeat. A child process publishes, one
// round of every node per credit, so the backlog stays bounded by two rounds.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { decode, Heartbeat, nodeFromSubject, subjects } from '@edgeplane/api';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { numberFlag, type Bench } from './run.ts';
import { startNats, startRedis, type NatsServer } from '@edgeplane/env';
import { HeartbeatIngestor } from '../control-plane/src/fleet/heartbeats.ts';
import { MalformedReporter } from '../control-plane/src/fleet/malformed.ts';
import { TelemetryStore } from '../control-plane/src/fleet/telemetry-store.ts';
import { heartbeatFields } from '../control-plane/src/fleet/telemetry.ts';
import { createMetrics } from '../control-plane/src/metrics.ts';
import { redisKeys } from '../control-plane/src/fleet/keys.ts';

interface Ingest {
  /** Heartbeats written to Redis so far. */
  count(): number;
  stop(): Promise<void>;
}

/** The control plane's path, unchanged. */
function pipelined(nc: NatsConnection, store: TelemetryStore): Ingest {
  const metrics = createMetrics();
  const log = pino({ level: 'silent' });
  const ingestor = new HeartbeatIngestor({ nc, store, metrics, malformed: new MalformedReporter(metrics, log), log });
  ingestor.start();
  return { count: () => ingestor.ingested, stop: () => ingestor.stop() };
}

/** Baseline: decode, then await one Redis write per heartbeat before taking the next. */
function oneByOne(nc: NatsConnection, store: TelemetryStore): Ingest {
  let n = 0;
  const sub = nc.subscribe(subjects.allStatus, { queue: subjects.ingestQueue });
  const loop = (async () => {
    for await (const msg of sub) {
      const node = nodeFromSubject(msg.subject);
      const d = decode(Heartbeat, 'heartbeat', msg.data);
      if (!node || !d.ok) continue;
      const now = Date.now();
      await store.write([{ node, fields: heartbeatFields(d.value, now), lastSeenMs: now }]);
      n++;
    }
  })();
  return {
    count: () => n,
    stop: async () => {
      sub.unsubscribe();
      await loop;
    },
  };
}

async function measure(
  label: string,
  o: { nats: NatsServer; redis: Redis; nodes: number; conns: number; seconds: number; log: (l: string) => void },
  make: (nc: NatsConnection, store: TelemetryStore) => Ingest,
): Promise<{ heartbeatsPerSec: number; heartbeats: number; seconds: number; nodesInRedis: number }> {
  await o.redis.flushall();
  const nc = await connect({ ...(await o.nats.connectOptions('control-plane')), name: `bench-ingest-${label}` });
  const ingest = make(nc, new TelemetryStore(o.redis));
  await nc.flush();
  const secure = o.nats.trust !== null;
  const publisherArgs = [o.nats.url, String(o.nodes), String(o.conns), label, secure ? await o.nats.credsFile('admin') : '-', o.nats.caFile ?? '-'];
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./heartbeat-publisher.ts', import.meta.url)), ...publisherArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const sub = nc.subscribe('bench.heartbeat.ready', { max: 1, callback: () => resolve() });
      setTimeout(() => {
        sub.unsubscribe();
        reject(new Error('publisher did not start'));
      }, 30_000).unref();
    });
    const start = performance.now();
    const deadline = start + o.seconds * 1000;
    let granted = 0;
    const grant = () => {
      granted++;
      nc.publish('bench.heartbeat.credit');
    };
    grant();
    grant();
    // A new round once the one before the last is in Redis: at most two rounds in flight.
    for (;;) {
      const done = ingest.count();
      if (done >= (granted - 1) * o.nodes && performance.now() < deadline) grant();
      if (performance.now() >= deadline && done >= granted * o.nodes) break;
      if (performance.now() > deadline + 60_000) throw new Error(`${label}: ingestion stalled at ${done} of ${granted * o.nodes}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    const elapsed = (performance.now() - start) / 1000;
    const heartbeats = ingest.count();
    nc.publish('bench.heartbeat.stop');
    await nc.flush();
    await exited;
    const nodesInRedis = await o.redis.zcard(redisKeys.lastSeen);
    const result = { heartbeatsPerSec: Math.round(heartbeats / elapsed), heartbeats, seconds: Math.round(elapsed * 100) / 100, nodesInRedis };
    o.log(`${label}: ${JSON.stringify(result)} (publisher ${out.trim()})`);
    return result;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await ingest.stop();
    await nc.close();
  }
}

const bench: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 10_000);
  const seconds = numberFlag(argv, 'seconds', 10);
  const conns = numberFlag(argv, 'conns', 4);
  if (nodes < 1 || nodes > 200_000 || seconds <= 0 || seconds > 60) throw new Error('--nodes 1..200000 and --seconds up to 60');
  const [nats, insecureNats, redisServer] = await Promise.all([startNats({ jetstream: false }), startNats({ jetstream: false, insecure: true }), startRedis()]);
  const redis = new Redis(redisServer.url);
  try {
    const o = { nats, redis, nodes, conns, seconds, log };
    const secure = await measure('secure-pipelined', o, pipelined);
    const insecure = await measure('insecure-pipelined', { ...o, nats: insecureNats }, pipelined);
    const baseline = await measure('secure-one-write-per-heartbeat', { ...o, seconds: Math.min(seconds, 5) }, oneByOne);
    for (const r of [secure, insecure]) if (r.nodesInRedis !== nodes) throw new Error(`expected ${nodes} nodes in Redis, found ${r.nodesInRedis}`);
    const figures = (r: typeof secure) => ({ heartbeatsPerSecond: r.heartbeatsPerSec, heartbeats: r.heartbeats, seconds: r.seconds });
    return {
      bench: 'heartbeat',
      nodes,
      connections: conns,
      // JWT authentication and TLS on every connection: the figure the goal applies to.
      secure: figures(secure),
      // The same work on a server without authentication or TLS, in the same run.
      insecure: figures(insecure),
      secureToInsecure: Math.round((secure.heartbeatsPerSec / insecure.heartbeatsPerSec) * 100) / 100,
      heartbeatsPerSec: secure.heartbeatsPerSec,
      seconds: secure.seconds,
      baselineHeartbeatsPerSec: baseline.heartbeatsPerSec,
      speedup: Math.round((secure.heartbeatsPerSec / baseline.heartbeatsPerSec) * 10) / 10,
      goalHeartbeatsPerSec: 20_000,
      // Other work on the two cores moves the figure; the load says how busy they were.
      loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    };
  } finally {
    await redis.quit();
    await Promise.all([nats.stop(), insecureNats.stop(), redisServer.stop()]);
  }
};

export default bench;
