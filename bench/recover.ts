// `npm run bench -- recover --nodes 1000 --json`: time from a fault to a fully converged fleet
// again, for three faults in a row on one converged fleet: redis-server SIGKILLed and started
// again empty on its port, the leading control-plane replica SIGKILLed (two replicas as child
// processes), nats-server stopped and started again (its JetStream store kept).
//
// Converged again means every one of these holds at once (first moment, polled every 100 ms):
// a live replica holds the Lease and says so (edgeplane_leader 1) with no node unreachable
// (edgeplane_unreachable_nodes 0); every node was heard since the fault (its Redis last-seen entry is
// newer); the read API lists every placement (Redis rebuilt); the deployment's status counts
// every replica Ready; and every simulated agent runs its workload Ready.
//
// Simulated: the agents (cli/src/simulate, many nodes per shared NATS connection, executors
// that only pretend to download and load). Real: kube-apiserver + etcd, nats-server with JWT
// auth and TLS, redis-server, and the control plane with its production timings (lease 15 s,
// renew deadline 10 s, retry 2 s) unless flags say otherwise.
import { loadavg } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { freePort, redisBinary, startProcess, type ServerProcess } from '@edgeplane/env';
import type { Bench } from './run.ts';
import { numberFlag } from './run.ts';
import { createDeployment, ocrDetection, waitForReadyNodes, watchDeploymentStatus } from '@edgeplane/env';
import { startControlPlaneChild, startFleetStack, type ControlPlaneHandle } from '@edgeplane/env/fleet-stack';
import { redisKeys } from '../control-plane/src/fleet/keys.ts';

interface Replica {
  identity: string;
  handle: ControlPlaneHandle;
  alive: boolean;
}

/** When all conditions held together, ms after the fault, and since when each one held for good. */
interface Recovery {
  /** null: not converged within the timeout; `pending` says what did not hold then. */
  ms: number | null;
  pending: string[];
  /** Since when each condition held without a break until the end (the first poll if it never broke). */
  holdsSinceMs: Record<'leader' | 'allHeard' | 'placementsInApi' | 'statusReady' | 'agentsReady', number | null>;
  /** The fewest replicas the status counted Ready during the recovery. */
  statusReadyMin: number;
  loadAverage1m: number;
}

const metric = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
};

async function startRedisAt(port: number, dir: string): Promise<ServerProcess> {
  const proc = startProcess('redis-server', redisBinary(), ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], dir);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const ok = await probe
      .connect()
      .then(() => probe.ping())
      .catch(() => '');
    probe.disconnect();
    if (ok === 'PONG') return proc;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}\n${proc.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const recover: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 1000);
  const replicas = numberFlag(argv, 'replicas', nodes);
  const heartbeatMs = numberFlag(argv, 'heartbeat-ms', 5000);
  const timeoutMs = numberFlag(argv, 'timeout-s', 120) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'ep-bench-recover-'));
  const redisPort = await freePort();
  let redisProc = await startRedisAt(redisPort, dir);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const loadBefore = loadavg()[0]!;

  const stack = await startFleetStack({
    nodes,
    controlPlane: 'child',
    heartbeatIntervalMs: heartbeatMs,
    helloTimeoutMs: 300_000,
    simulation: { helloConcurrency: 32, helloTimeoutMs: 20_000 },
    // Our own redis-server, on a port it can be started again on.
    env: { EP_REDIS_URL: redisUrl },
    log,
  });
  const replicaSet: Replica[] = [];
  try {
    const env = stack.controlPlaneEnv;
    replicaSet.push({ identity: env.EP_IDENTITY!, handle: stack.controlPlane, alive: true });
    const second = `${env.EP_IDENTITY!}-b`;
    replicaSet.push({ identity: second, handle: await startControlPlaneChild({ ...env, EP_IDENTITY: second, EP_API_ADDR: `127.0.0.1:${await freePort()}` }), alive: true });
    log(`two control-plane replicas: ${replicaSet.map((r) => `${r.identity} pid ${r.handle.pid}`).join(', ')}`);

    await waitForReadyNodes(stack.kc, stack.fleetSelector, nodes, 120_000, (n) => n < nodes && log(`EdgeNodes Ready: ${n}/${nodes}`));
    const name = 'recover';
    let lastStatus = { ready: 0 };
    const watch = await watchDeploymentStatus(stack.kc, stack.namespace, name, (s) => {
      lastStatus = { ready: s.readyReplicas ?? 0 };
    });
    await createDeployment(stack.kc, ocrDetection(stack.namespace, name, replicas, stack.fleetLabels));
    const auth = { authorization: `Bearer ${stack.kube.token}` };
    const leases = stack.kc.makeApiClient(CoordinationV1Api);
    const leaseName = env.EP_LEASE_NAME!;

    const leader = async (): Promise<Replica | undefined> => {
      const lease = await leases.readNamespacedLease({ name: leaseName, namespace: stack.namespace }).catch(() => undefined);
      const holder = replicaSet.find((r) => r.alive && r.identity === lease?.spec?.holderIdentity);
      if (!holder) return undefined;
      const text = await fetch(`${holder.handle.address}/metrics`, { headers: auth, signal: AbortSignal.timeout(2000) })
        .then((r) => (r.ok ? r.text() : ''))
        .catch(() => '');
      return metric(text, 'edgeplane_leader') === 1 && metric(text, 'edgeplane_unreachable_nodes') === 0 ? holder : undefined;
    };
    const placementsInApi = async (at: Replica): Promise<number> => {
      const res = await fetch(`${at.handle.address}/api/v1/deployments/${stack.namespace}/${name}`, { headers: auth, signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      if (!res?.ok) return -1;
      return ((await res.json()) as { placements: unknown[] }).placements.length;
    };

    /** Polls until every condition holds at once; `since` is when the fault began. */
    const untilConverged = async (what: string, since: number): Promise<Recovery> => {
      const holds: Recovery['holdsSinceMs'] = { leader: null, allHeard: null, placementsInApi: null, statusReady: null, agentsReady: null };
      let statusReadyMin = lastStatus.ready;
      let lastLog = 0;
      const done = (ms: number | null, pending: string[]): Recovery => ({ ms, pending, holdsSinceMs: holds, statusReadyMin, loadAverage1m: Number(loadavg()[0]!.toFixed(2)) });
      for (;;) {
        const now = Date.now();
        const lead = await leader();
        const heard = await redis.zcount(redisKeys.lastSeen, since, '+inf').catch(() => 0);
        const placed = lead ? await placementsInApi(lead) : -1;
        const checks = {
          leader: lead !== undefined,
          allHeard: heard >= nodes,
          placementsInApi: placed === replicas,
          statusReady: lastStatus.ready >= replicas,
          agentsReady: stack.sim.stats().readyWorkloads >= replicas,
        };
        statusReadyMin = Math.min(statusReadyMin, lastStatus.ready);
        // A condition that breaks starts over: what counts is since when it held for good.
        for (const [k, ok] of Object.entries(checks) as [keyof Recovery['holdsSinceMs'], boolean][]) holds[k] = ok ? (holds[k] ?? now - since) : null;
        const pending = Object.entries(checks).filter(([, ok]) => !ok).map(([k]) => k);
        if (pending.length === 0) return done(now - since, pending);
        if (now - lastLog > 2000) {
          lastLog = now;
          log(`${what}: ${JSON.stringify({ pending, heard, placed, statusReadyReplicas: lastStatus.ready, agentsReadyWorkloads: stack.sim.stats().readyWorkloads })}`);
        }
        // A figure that misses is reported with what never held, and the next fault still runs.
        if (now - since > timeoutMs) {
          log(`${what}: not converged within ${timeoutMs} ms; pending ${pending.join(', ')}`);
          return done(null, pending);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    const initial = await untilConverged('initial rollout', Date.now() - heartbeatMs * 2);
    if (initial.ms === null) throw new Error(`the rollout did not converge: ${initial.pending.join(', ')}`);
    log(`converged: ${replicas} replicas Ready over ${nodes} nodes`);
    const settle = () => new Promise((r) => setTimeout(r, 2000));

    await settle();
    log('fault: redis-server SIGKILLed and started again empty');
    const redisAt = Date.now();
    await redisProc.kill('SIGKILL');
    redisProc = await startRedisAt(redisPort, dir);
    const redisDownMs = Date.now() - redisAt;
    const redisRestart = await untilConverged('after the Redis restart', redisAt);
    log(`converged ${redisRestart.ms} ms after the Redis restart`);

    await settle();
    const old = await leader();
    if (!old) throw new Error('no leader before the kill');
    log(`fault: leader ${old.identity} (pid ${old.handle.pid}) SIGKILLed`);
    const killAt = Date.now();
    process.kill(old.handle.pid!, 'SIGKILL');
    old.alive = false;
    const leaderKill = await untilConverged('after the leader kill', killAt);
    log(`converged ${leaderKill.ms} ms after the leader kill`);

    await settle();
    log('fault: nats-server stopped and started again');
    const natsAt = Date.now();
    await stack.nats.restart();
    const natsDownMs = Date.now() - natsAt;
    const natsRestart = await untilConverged('after the NATS restart', natsAt);
    log(`converged ${natsRestart.ms} ms after the NATS restart`);
    watch.stop();

    return {
      bench: 'recover',
      nodes,
      replicas,
      redisRestartMs: redisRestart.ms,
      leaderKillMs: leaderKill.ms,
      natsRestartMs: natsRestart.ms,
      goal: { eachMs: 10_000 },
      loadAverage1m: { before: Number(loadBefore.toFixed(2)), redisRestart: redisRestart.loadAverage1m, leaderKill: leaderKill.loadAverage1m, natsRestart: natsRestart.loadAverage1m },
      holdsSinceMs: { redisRestart: redisRestart.holdsSinceMs, leaderKill: leaderKill.holdsSinceMs, natsRestart: natsRestart.holdsSinceMs },
      statusReadyMin: { redisRestart: redisRestart.statusReadyMin, leaderKill: leaderKill.statusReadyMin, natsRestart: natsRestart.statusReadyMin },
      notConverged: { redisRestart: redisRestart.pending, leaderKill: leaderKill.pending, natsRestart: natsRestart.pending },
      timeoutMs,
      downMs: { redis: redisDownMs, nats: natsDownMs },
      initialRolloutMs: initial.ms,
      simulated: 'agents: simulated nodes (cli/src/simulate) over shared NATS connections, executors that pretend to download and load; real: kube-apiserver + etcd, nats-server (JWT auth, TLS), redis-server, two control-plane replicas as child processes',
      converged: 'a live replica leads (edgeplane_leader 1, edgeplane_unreachable_nodes 0), every node heard since the fault, the read API lists every placement, status counts every replica Ready, every simulated agent runs its workload Ready',
      settings: { heartbeatIntervalMs: heartbeatMs, leaseDurationMs: Number(env.EP_LEASE_DURATION_MS ?? 6000), renewDeadlineMs: Number(env.EP_RENEW_DEADLINE_MS ?? 4000), retryPeriodMs: Number(env.EP_RETRY_PERIOD_MS ?? 1000) },
    };
  } finally {
    log('stopping');
    for (const r of replicaSet.slice(1)) if (r.alive) await r.handle.stop();
    await stack.stop();
    redis.disconnect();
    await redisProc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default recover;
