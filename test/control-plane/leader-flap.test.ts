// Leadership that comes and goes, against the real API server, NATS and Redis.
//
// Invariants:
// 1. A leader whose every Lease call takes 900 ms (under a third of its 3 s renew deadline)
//    keeps the Lease: a renew is one update of the Lease as its own last write left it, sent a
//    retry period after the previous renew was sent. (Reading the Lease before each update and
//    waiting a retry period after each renew ended left 0.7 s for a 0.9 s read: it stepped down
//    every few seconds with every renew answered.) Once the calls take longer than the renew
//    deadline it still steps down.
// 2. A control plane whose Lease is taken from it N times holds, in each term, the same NATS
//    subscriptions as in its first term and, between terms, the same as a follower; the timers
//    alive in each term do not grow with the number of terms; and the memory outside the V8 heap
//    (Buffers, ArrayBuffers) after the last term stays within a bound of the baseline, so
//    nothing started with leadership outlives it (a subscription nobody reads, a timer loop, a
//    compressed body per term).
import { createHook } from 'node:async_hooks';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request } from 'node:https';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CoordinationV1Api, KubeConfig, V1MicroTime } from '@kubernetes/client-node';
import { controlPlaneNats, freePort, kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { LeaderElector } from '../../control-plane/src/kube/leader.ts';
import { isConflict } from '../../control-plane/src/kube/errors.ts';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { apiGet, ensureNamespace, gpu, runId, testConfig, waitReady } from '../helpers/control-plane.ts';

const run = runId('cp-flap');
const kube = inject('kube');
const kc = kubeConfig(kube);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plain-HTTP proxy to the API server that holds every reply about Leases `delayMs`, counting the calls. */
interface LeaseProxy {
  url: string;
  delayMs: number;
  calls: { GET: number; PUT: number; POST: number };
  close(): Promise<void>;
}

async function startLeaseProxy(): Promise<LeaseProxy> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster');
  const upstream = new URL(cluster.server);
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined;
  const proxy: LeaseProxy = { url: '', delayMs: 0, calls: { GET: 0, PUT: 0, POST: 0 }, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const lease = /\/leases(\/|$|\?)/.test(req.url ?? '');
    const method = req.method as keyof LeaseProxy['calls'];
    if (lease && method in proxy.calls) proxy.calls[method] += 1;
    const hold = lease ? proxy.delayMs : 0;
    const out = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host }, ...(ca ? { ca } : {}) }, (reply: IncomingMessage) => {
      setTimeout(() => {
        if (res.destroyed) return reply.destroy();
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      }, hold);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('lease proxy has no TCP address');
  proxy.url = `http://127.0.0.1:${addr.port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

/** The test's credentials, dialling the API server through the proxy. */
function coordinationVia(url: string): CoordinationV1Api {
  const via = new KubeConfig();
  via.loadFromString(kube.kubeconfig);
  const current = via.getCurrentCluster()!;
  via.loadFromOptions({
    clusters: via.clusters.map((c) => (c.name === current.name ? { name: c.name, server: url, skipTLSVerify: true } : c)),
    users: via.users,
    contexts: via.contexts,
    currentContext: via.currentContext,
  });
  return via.makeApiClient(CoordinationV1Api);
}

const coordination = kc.makeApiClient(CoordinationV1Api);

/**
 * Takes the Lease as another replica would, for a second: the holder steps down at its next renew.
 * A renew landing between the read and the write makes it a conflict (409): read again, as a
 * competing client does.
 */
async function stealLease(name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const lease = await coordination.readNamespacedLease({ name, namespace: run });
    const spec = lease.spec ?? {};
    try {
      await coordination.replaceNamespacedLease({
        name,
        namespace: run,
        body: { ...lease, spec: { ...spec, holderIdentity: 'intruder', leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } },
      });
      return;
    } catch (err) {
      if (!isConflict(err) || attempt >= 10) throw err;
    }
  }
}

let proxy: LeaseProxy;
let nats: NatsServer;
let redis: RedisServer;
let monitorUrl: string;
let cp: ControlPlane | undefined;
const agents: TestAgent[] = [];

beforeAll(async () => {
  const monitorPort = await freePort();
  monitorUrl = `http://127.0.0.1:${monitorPort}`;
  [proxy, nats, redis] = await Promise.all([startLeaseProxy(), startNats({ config: `http: "127.0.0.1:${monitorPort}"\n` }), startRedis()]);
  await ensureNamespace(kc, run);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  await Promise.all([proxy?.close(), nats?.stop(), redis?.stop()]);
});

describe('leader election on a slow API server', () => {
  it('keeps the Lease while each call takes 900 ms, and steps down once calls outlast the renew deadline', async () => {
    const name = `${run}-slow`;
    const timing = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };
    let starts = 0;
    let stops = 0;
    const elector = new LeaderElector({
      coordination: coordinationVia(proxy.url),
      name,
      namespace: run,
      identity: 'slow-api',
      ...timing,
      log: pino({ level: 'silent' }),
      onStartedLeading: () => void (starts += 1),
      onStoppedLeading: () => void (stops += 1),
    });
    proxy.delayMs = 900;
    try {
      elector.start();
      await waitFor('leads', () => elector.isLeader(), 10_000, 20);
      const before = { ...proxy.calls };
      let notLeading = 0;
      const sampler = setInterval(() => {
        if (!elector.isLeader()) notLeading += 1;
      }, 20);
      await sleep(12_000);
      clearInterval(sampler);
      const renews = proxy.calls.PUT - before.PUT;
      const reads = proxy.calls.GET - before.GET;
      expect({ starts, stops, notLeading }).toEqual({ starts: 1, stops: 0, notLeading: 0 });
      // About one renew per 0.9 s call, each one call: a read before each would double the calls.
      expect(renews).toBeGreaterThanOrEqual(8);
      expect(reads).toBeLessThan(renews / 2);

      // Calls longer than the renew deadline: it stops acting within the deadline of its last renew.
      proxy.delayMs = 3500;
      await waitFor('steps down', () => !elector.isLeader(), timing.renewDeadlineMs + 2000, 20);
      await waitFor('stopped', () => stops === 1, 5000, 20);
    } finally {
      proxy.delayMs = 0;
      await elector.stop();
    }
  });
});

describe('a control plane whose Lease is taken from it again and again', () => {
  it('holds the same subscriptions and timers in every term and keeps its memory outside the heap bounded', async () => {
    const FLAPS = 8;
    const AGENTS = 3;
    // Live Timeout objects of this process (setTimeout and setInterval, unref'd ones too).
    const timers = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout') timers.add(id);
      },
      destroy(id) {
        timers.delete(id);
      },
    });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const external = () => {
      gc();
      const m = process.memoryUsage();
      return m.external + m.arrayBuffers;
    };

    const config = testConfig({ ...(await controlPlaneNats(nats)), redisUrl: redis.url, kubeconfigPath: kube.kubeconfigPath, run, leaseName: `${run}-cp`, leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 });
    cp = await startControlPlane(config);
    const c = cp;
    await waitReady(c.address);
    await waitFor('leads', () => c.isLeader(), 20_000);
    for (let i = 0; i < AGENTS; i++) {
      agents.push(await TestAgent.start({ nats, node: `${run}-n${i}`, accelerators: [gpu()], power: { source: 'mains' }, network: { type: 'ethernet' }, labels: { 'edgeplane.io/test-run': run } }));
    }
    /** Subjects the control plane's NATS connection subscribes to, as the server lists them (duplicates kept). */
    const subscriptions = async (): Promise<string[]> => {
      const connz = (await (await fetch(`${monitorUrl}/connz?subs=1&limit=1024`)).json()) as { connections: { name?: string; subscriptions_list?: string[] }[] };
      const mine = connz.connections.filter((x) => x.name === `ep-control-plane-${config.identity}`);
      expect(mine).toHaveLength(1);
      return [...(mine[0]!.subscriptions_list ?? [])].sort();
    };
    // A dashboard open throughout: its event stream and a compressed snapshot every 200 ms.
    const dashboard = new AbortController();
    const stream = apiGet(c.address, '/dashboard/api/events').then(async (res) => {
      if (!res.body) return;
      for await (const chunk of res.body) void chunk;
    });
    const snapshots = setInterval(() => {
      void fetch(`${c.address}/dashboard/api/fleet`, { headers: { authorization: `Bearer ${kube.token}`, 'accept-encoding': 'br, gzip' }, signal: dashboard.signal }).then((r) => r.arrayBuffer(), () => undefined);
    }, 200);

    hook.enable();
    try {
      await sleep(1000);
      const baseline = { subs: await subscriptions(), timers: timers.size, external: external() };
      const leading: string[][] = [];
      const following: string[][] = [];
      const termTimers: number[] = [];
      for (let i = 0; i < FLAPS; i++) {
        await stealLease(config.leaseName);
        await waitFor(`steps down (${i + 1})`, () => !c.isLeader(), 5000, 20);
        // Stopped leading means its leader-only subscriptions are drained.
        await sleep(300);
        following.push(await subscriptions());
        await waitFor(`leads again (${i + 1})`, () => c.isLeader(), 15_000, 20);
        await sleep(300);
        leading.push(await subscriptions());
        termTimers.push(timers.size);
      }
      const after = external();
      // Every term subscribes to what the first did, and every loss gives it back.
      expect(baseline.subs).toContain('ep.v1.node.*.hello');
      expect(leading).toEqual(Array(FLAPS).fill(baseline.subs));
      expect(following).toEqual(Array(FLAPS).fill(baseline.subs.filter((subject) => subject !== 'ep.v1.node.*.hello')));
      // A loop or interval started per term and never stopped adds one per term: eight flaps
      // would add eight. In-flight timers (request timeouts, retries) vary by a few.
      expect(Math.max(...termTimers)).toBeLessThanOrEqual(Math.max(baseline.timers, termTimers[0]!) + 4);
      // Outside the heap: a few fleet snapshots (kilobytes at this size), sockets' buffers and
      // the clients' pools; a body or a queue kept per term would grow with the terms.
      expect(after - baseline.external).toBeLessThan(16 * 2 ** 20);
    } finally {
      hook.disable();
      clearInterval(snapshots);
      dashboard.abort();
      void stream.catch(() => undefined);
    }
  });
});
