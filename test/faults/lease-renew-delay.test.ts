// Invariant: when the leader's Lease renew is delayed 6 s (with or without a -10 s step of its
// wall clock), never two leaders act: no KV write by the old leader lands after the new leader's
// acquire time and the two never both hold write permission; a write under an older term never
// replaces a newer term's; a replica whose start of leadership fails (Redis down) releases the
// Lease to a healthy one.
//
// Two electors run in this process against the real kube-apiserver, each with its own client;
// the first one's calls go through a proxy that holds the replies to its renews (the case a
// TCP delay hits only when the toxic lands while a renew is in flight), or through Toxiproxy
// with a 6 s latency on every reply; each leader writes node assignments to a real JetStream
// KV through the fenced publisher.
//
// On the fault suite's layout (lib/topology.ts): the KV buckets have three copies on a
// three-server NATS cluster; no control plane runs, so Redis behind Sentinel stands idle, and
// "Redis down" is a port nothing listens on.
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Assignment, decode, type WorkloadAssignment } from '@edgeplane/api';
import { freePort, kubeConfig, startToxiproxy, type ToxiProxy, type ToxiproxyServer } from '@edgeplane/env';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AssignmentPublisher } from '../../control-plane/src/fleet/assignment-publisher.ts';
import { LeaderElector, systemClock, type ElectionClock } from '../../control-plane/src/kube/leader.ts';
import { createMetrics } from '../../control-plane/src/metrics.ts';
import { waitFor } from '../helpers/agent.ts';
import { ensureNamespace, runId } from '../helpers/control-plane.ts';
import { startLeaseDelayProxy, type LeaseDelayProxy } from './lib/lease-delay-proxy.ts';
import { REPLICAS, startTopology, type Topology } from './lib/topology.ts';

const run = runId('lease-fault');
const kube = inject('kube');
const kc = kubeConfig(kube);
const log = pino({ level: 'silent' });
const timing = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };
const NODES = ['n-a', 'n-b'];
let topology: Topology;
let proxy: LeaseDelayProxy;
let toxiproxy: ToxiproxyServer;
let tcp: ToxiProxy;

beforeAll(async () => {
  topology = await startTopology();
  await ensureNamespace(kc, run);
  const cluster = kc.getCurrentCluster();
  proxy = await startLeaseDelayProxy({ server: cluster?.server ?? '', ...(cluster?.caData ? { ca: Buffer.from(cluster.caData, 'base64') } : {}) });
  toxiproxy = await startToxiproxy();
  tcp = await toxiproxy.proxy('kube-apiserver', new URL(cluster?.server ?? '').host);
});

afterAll(async () => {
  await toxiproxy?.stop();
  await proxy?.close();
  await topology?.stop();
});

/** The same credentials, dialling the API server through the HTTP proxy, or over TLS through Toxiproxy. */
function proxiedCoordination(via_: 'http' | 'tcp' = 'http'): CoordinationV1Api {
  const via = new KubeConfig();
  via.loadFromString(kube.kubeconfig);
  const cluster = via.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster');
  via.loadFromOptions({
    // Plain HTTP on loopback (client-node calls that skipTLSVerify); the proxy verifies the server.
    clusters: via.clusters.map((c) =>
      c.name !== cluster.name ? c : via_ === 'http' ? { name: c.name, server: proxy.url, skipTLSVerify: true } : { ...c, server: `https://127.0.0.1:${tcp.port}` },
    ),
    users: via.users,
    contexts: via.contexts,
    currentContext: via.currentContext,
  });
  return via.makeApiClient(CoordinationV1Api);
}

function workload(n: number): WorkloadAssignment {
  return {
    key: 'ns/d',
    namespace: 'ns',
    deployment: 'd',
    model: 'm',
    task: 'object-detection',
    variant: { name: 'v', precision: 'fp32', profile: 'full', uri: 'nats-obj://ep-models/v.onnx', sha256: 'a'.repeat(64), sizeBytes: 1, memoryMiB: 1 },
    accelerator: 'gpu0',
    maxBatch: 1,
    maxQueueDelayMs: 0,
    latencySloMs: n + 1,
  };
}

interface Write {
  who: string;
  /** Wall time the write was confirmed by the server, by the test's own clock. */
  doneMs: number;
}

/** A replica: an elector whose leadership runs a loop of fenced KV writes, as the reconciler would. */
function replica(o: { who: string; lease: string; kv: KV; coordination: CoordinationV1Api; clock?: ElectionClock; writes: Write[]; onStart?: () => Promise<void> }) {
  let elector: LeaderElector | undefined;
  const publisher = new AssignmentPublisher({ kv: o.kv, metrics: createMetrics(), log, mayWrite: () => elector?.isLeader() ?? false, term: () => elector?.term() });
  let loop: Promise<void> | undefined;
  let acting = false;
  let counter = 0;
  const refused: string[] = [];
  elector = new LeaderElector({
    coordination: o.coordination,
    name: o.lease,
    namespace: run,
    identity: o.who,
    ...timing,
    log,
    ...(o.clock ? { clock: o.clock } : {}),
    onStartedLeading: async () => {
      await o.onStart?.();
      publisher.reset();
      acting = true;
      loop = (async () => {
        while (acting) {
          for (const node of NODES) {
            try {
              await publisher.publish(node, [workload(counter++)]);
              o.writes.push({ who: o.who, doneMs: Date.now() });
            } catch (err) {
              refused.push((err as { code?: string }).code ?? String(err));
            }
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
    },
    onStoppedLeading: async () => {
      acting = false;
      await loop;
    },
  });
  return { elector, refused };
}

const readLease = (name: string): Promise<V1Lease> => kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name, namespace: run });
const ms = (t: unknown): number => (t instanceof Date ? t.getTime() : Date.parse(String(t)));
const sleep = (delayMs: number) => new Promise((r) => setTimeout(r, delayMs));

async function bucket(name: string): Promise<KV> {
  return new Kvm(await topology.admin()).create(name, { history: 1, replicas: REPLICAS });
}

interface Fault {
  via: 'http' | 'tcp';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Replies held so far, when the fault can tell. */
  held?: () => number;
}

const renewReplyDelay: Fault = {
  via: 'http',
  start: async () => proxy.setRenewReplyDelayMs(6000),
  stop: async () => proxy.setRenewReplyDelayMs(0),
  held: () => proxy.held(),
};

/** Every reply on the leader's connections held 6 s: the Lease read is as likely to be hit as the renew. */
const tcpLatency: Fault = {
  via: 'tcp',
  start: async () => void (await tcp.latency(6000)),
  stop: () => toxiproxy.reset(),
};

async function delayedRenew(name: string, clockStepMs: number, fault: Fault = renewReplyDelay): Promise<void> {
  const kv = await bucket(`lease-${name}`);
  const writes: Write[] = [];
  let stepMs = 0;
  const stepped: ElectionClock = { monotonicMs: systemClock.monotonicMs, wallMs: () => Date.now() + stepMs };
  const a = replica({ who: 'a', lease: name, kv, coordination: proxiedCoordination(fault.via), clock: stepped, writes });
  const b = replica({ who: 'b', lease: name, kv, coordination: kc.makeApiClient(CoordinationV1Api), writes });
  try {
    a.elector.start();
    await waitFor('a leads', () => a.elector.isLeader() && writes.length > 4);
    b.elector.start();
    await sleep(600);
    expect(b.elector.isLeader()).toBe(false);

    // Sampled through the fault: both replicas saying they may write at once is two leaders.
    let both = 0;
    const sampler = setInterval(() => {
      if (a.elector.isLeader() && b.elector.isLeader()) both += 1;
    }, 5);
    await fault.start();
    stepMs = clockStepMs;
    await waitFor('b leads', () => b.elector.isLeader(), 10_000, 20);
    const lease = await readLease(name);
    expect(lease.spec?.holderIdentity).toBe('b');
    const acquiredMs = ms(lease.spec?.acquireTime);
    // The delayed replies arrive meanwhile; the old leader must not act on them.
    await sleep(7000);
    if (fault.held) expect(fault.held()).toBeGreaterThan(0);
    await fault.stop();
    await sleep(1000);
    clearInterval(sampler);
    expect(both).toBe(0);

    const late = writes.filter((w) => w.who === 'a' && w.doneMs > acquiredMs);
    expect(late).toEqual([]);
    expect(writes.some((w) => w.who === 'b' && w.doneMs > acquiredMs)).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    // Every entry carries the new leader's term.
    for (const node of NODES) {
      const entry = await kv.get(node);
      const doc = entry ? decode(Assignment, 'assignment', entry.value) : undefined;
      expect(doc?.ok && doc.value.term).toBe(lease.spec?.leaseTransitions);
    }
  } finally {
    await fault.stop();
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  }
}

describe('leader election under faults', () => {
  it('a Lease renew delayed 6 s: no write by the old leader after the new one acquired', async () => {
    await delayedRenew(`${run}-delay`, 0);
  }, 40_000);

  it('a renew delayed 6 s with the leader wall clock stepped back 10 s: no write by the old leader after the new one acquired', async () => {
    await delayedRenew(`${run}-step`, -10_000);
  }, 40_000);

  it('every reply to the leader delayed 6 s on its TCP connections (Toxiproxy): no write by the old leader after the new one acquired', async () => {
    await delayedRenew(`${run}-tcp`, 0, tcpLatency);
  }, 40_000);

  it('the compare-and-set retry of an older term never overwrites a newer term', async () => {
    const kv = await bucket('lease-fence');
    const metrics = createMetrics();
    let oldTerm: number | undefined = 3;
    const older = new AssignmentPublisher({ kv, metrics, log, term: () => oldTerm });
    const newer = new AssignmentPublisher({ kv, metrics, log, term: () => 4 });
    await older.publish('n-a', [workload(1)]);
    // The newer leader writes over it; the older one still caches the revision it wrote.
    await newer.publish('n-a', [workload(2)]);
    await expect(older.publish('n-a', [workload(3)])).rejects.toMatchObject({ code: 'STALE_TERM', term: 3, storedTerm: 4 });
    // Not leading at all: no term, no write.
    oldTerm = undefined;
    await expect(older.publish('n-b', [workload(3)])).rejects.toMatchObject({ code: 'NOT_LEADER' });
    const entry = await kv.get('n-a');
    const doc = entry ? decode(Assignment, 'assignment', entry.value) : undefined;
    expect(doc?.ok && { term: doc.value.term, slo: doc.value.workloads[0]?.latencySloMs }).toEqual({ term: 4, slo: 3 });
    expect(await kv.get('n-b')).toBeNull();
  });

  it('a replica whose start fails (Redis down) releases the Lease and a healthy one leads', async () => {
    const name = `${run}-start`;
    const kv = await bucket('lease-start');
    const writes: Write[] = [];
    // Nothing listens on this port: Redis is down.
    const down = new Redis(`redis://127.0.0.1:${await freePort()}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => undefined);
    // Started leading is called only once the Lease is held; the hold itself may last a few
    // milliseconds (the start fails at once), too short to catch by reading the Lease.
    let brokenStarted = false;
    const onStart = async () => {
      brokenStarted = true;
      await down.connect();
    };
    const broken = replica({ who: 'broken', lease: name, kv, coordination: kc.makeApiClient(CoordinationV1Api), writes, onStart });
    const healthy = replica({ who: 'healthy', lease: name, kv, coordination: kc.makeApiClient(CoordinationV1Api), writes });
    try {
      broken.elector.start();
      await waitFor('broken took the Lease', () => brokenStarted, 5000, 20);
      healthy.elector.start();
      // Released at once: the healthy replica need not wait out a lease duration, let alone for ever.
      await waitFor('healthy leads', () => healthy.elector.isLeader(), timing.leaseDurationMs, 20);
      expect(broken.elector.isLeader()).toBe(false);
      await waitFor('healthy writes', () => writes.some((w) => w.who === 'healthy'));
      expect(writes.filter((w) => w.who === 'broken')).toEqual([]);
      expect((await readLease(name)).spec?.holderIdentity).toBe('healthy');
    } finally {
      down.disconnect();
      await Promise.all([broken.elector.stop(), healthy.elector.stop()]);
    }
  }, 30_000);
});
