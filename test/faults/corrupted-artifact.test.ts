// Invariant: an artifact whose bytes differ from the digest in the spec is never loaded; the
// failure shows in the placement's status within one heartbeat, in status.failures, in the
// Degraded condition and in a Warning Event, the replica runs the next allowed variant, and
// each retry of the corrupted one waits twice as long as the one before, under a new leader too.
//
// On the fault suite's layout (lib/topology.ts): the assignments bucket and the model store have
// three copies on a three-server NATS cluster, the control plane finds Redis through Sentinel.
// A replica that has not stored the new leader's write yet may answer the agent's read; the
// agent then reads again, so the assignment still arrives.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { serveTag } from '@edgeplane/trust';
import { kubeConfig } from '@edgeplane/env';
import type { EdgeModelDeploymentStatus } from '@edgeplane/api';
import { waitFor } from '../helpers/agent.ts';
import { applyDeployment, ensureNamespace, getDeployment, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { deployment, eventsOf, pushVariant, startAgentChild, tinyVariant, type AgentChild } from './lib/failure-kit.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const run = runId('fault-corrupt');
const kube = inject('kube');
const kc = kubeConfig(kube);
const HEARTBEAT_MS = 1000;
const BACKOFF_MS = 3000;
const dir = mkdtempSync(join(tmpdir(), 'ep-fault-corrupt-'));
const node = `${run}-n1`;
// The most accurate variant is the one whose stored bytes are corrupted.
const good = tinyVariant('m-fp16', 'fp16', 0.9);
const corrupted = tinyVariant('m-fp32', 'fp32', 0.95);
let topology: Topology;
let cp: ControlPlane;
let agent: AgentChild;

const status = async (): Promise<EdgeModelDeploymentStatus | undefined> => (await getDeployment(kc, run, 'm')).status;

async function startLeader(): Promise<ControlPlane> {
  const started = await startControlPlane(
    testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run, heartbeatIntervalMs: HEARTBEAT_MS, nodeMonitorGracePeriodMs: 5 * HEARTBEAT_MS, failureBackoffInitialMs: BACKOFF_MS, failureBackoffMaxMs: 60_000 }),
    // No stabilisation window: the retry of the better variant comes when its backoff ends.
    { placementOptions: { upgradeHoldMs: 0 }, logger: pino({ level: 'info' }, pino.destination({ dest: join(dir, 'control-plane.log'), sync: true })) },
  );
  await waitReady(started.address);
  await waitFor('leadership', () => started.isLeader(), 20_000);
  return started;
}

beforeAll(async () => {
  topology = await startTopology();
  await ensureNamespace(kc, run);
  const os = await topology.models();
  await pushVariant(os, good);
  // Overwritten in the store after the spec was written: same name, other bytes.
  await pushVariant(os, corrupted, tinyVariant('m-fp32-overwritten', 'fp32', 0.95).bytes);
  cp = await startLeader();
  // Serving over NATS from the start: no credential renewal (this control plane signs none) to load.
  agent = await startAgentChild({ nats: topology.hub, node, run, dir, cacheDir: join(dir, 'cache'), tags: [serveTag(run, 'm')] });
}, 60_000);

afterAll(async () => {
  await agent?.proc.stop(5000);
  await cp?.stop();
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a corrupted artifact', () => {
  it('is never loaded, shows in status and Events, and the next variant serves', async () => {
    onTestFailed(async () => {
      const lines = agent.logLines().filter((l) => /assignment applied|workload|variant/.test(String(l.msg)));
      console.log(`--- agent log\n${lines.map((l) => `${l.time} ${l.msg} ${String(l.variant ?? l.workloads ?? '')} ${String(l.reason ?? '')}`).join('\n')}`);
      console.log(`--- status\n${JSON.stringify(await status(), null, 1)}`);
      console.log(`--- control plane\n${readFileSync(join(dir, 'control-plane.log'), 'utf8').split('\n').slice(-40).join('\n')}`);
    });
    await applyDeployment(kc, deployment(run, 'm', [corrupted, good]));

    const failed = await waitFor('the failure in status', async () => (await status())?.failures?.find((f) => f.node === node && f.variant === corrupted.name), 30_000, 100);
    expect(failed).toMatchObject({ reason: 'DigestMismatch', count: 1, sha256: corrupted.sha256 });
    expect(failed.message).toMatch(/digest mismatch/);
    expect(Date.parse(failed.retryAfter) - Date.parse(failed.lastFailureTime)).toBe(BACKOFF_MS);

    // Within one heartbeat: the agent's early heartbeat, not the next tick, carried it.
    const agentFailedAt = agent.logLines().find((l) => l.msg === 'workload failed' && l.variant === corrupted.name)?.time;
    expect(agentFailedAt).toBeDefined();
    expect(Date.parse(failed.lastFailureTime) - agentFailedAt!).toBeLessThan(HEARTBEAT_MS);

    const degraded = (await status())?.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({ status: 'True', reason: 'VariantFailed' });
    expect(degraded?.message).toContain(`${corrupted.name} failed on ${node} (DigestMismatch`);

    const events = await waitFor('a VariantFailed Event', async () => (await eventsOf(kc, run, 'm')).find((e) => e.reason === 'VariantFailed'), 10_000);
    expect(events.type).toBe('Warning');
    expect(events.note).toContain(`${corrupted.name} failed on ${node} (DigestMismatch)`);

    const serving = await waitFor(
      'the next variant Ready',
      async () => (await status())?.placements?.find((p) => p.node === node && p.variant === good.name && p.phase === 'Ready'),
      20_000,
      100,
    );
    expect(serving.precision).toBe('fp16');

    // After the backoff the better variant is tried again, fails again, and waits twice as long;
    // the status that records it already has the replica back on the variant that serves.
    const retried = await waitFor(
      'the second failure',
      async () => {
        const s = await status();
        return s?.failures?.some((f) => f.variant === corrupted.name && f.count === 2) ? s : undefined;
      },
      30_000,
      200,
    );
    const second = retried.failures!.find((f) => f.variant === corrupted.name)!;
    expect(Date.parse(second.retryAfter) - Date.parse(second.lastFailureTime)).toBe(2 * BACKOFF_MS);
    // The retry came when the backoff ended, not at a resync.
    expect(Date.parse(second.lastFailureTime) - Date.parse(failed.retryAfter)).toBeLessThan(2 * HEARTBEAT_MS);
    // The same status already has the replica back on the variant that works.
    expect(retried.placements?.map((p) => `${p.node} ${p.variant}`)).toEqual([`${node} ${good.name}`]);
    await waitFor('the fallback Ready again', async () => (await status())?.placements?.find((p) => p.variant === good.name && p.phase === 'Ready'), 20_000, 100);

    // Never loaded: no load of it in the agent's log, and nothing of it in the cache.
    const loaded = agent.logLines().filter((l) => (l.msg === 'workload ready' || l.msg === 'variant switched') && l.variant === corrupted.name);
    expect(loaded).toEqual([]);
    expect(readdirSync(join(dir, 'cache', 'blobs'))).not.toContain(corrupted.sha256);
  }, 60_000);

  it('stays backed off under a new leader, which reads the failures from status', async () => {
    const before = (await status())!.failures!.find((f) => f.variant === corrupted.name)!;
    expect(before.count).toBe(2);
    const retryAt = Date.parse(before.retryAfter);
    await cp.stop();
    cp = await startLeader();
    const applied = () => agent.logLines().filter((l) => l.msg === 'assignment applied' && l.time! > Date.parse(before.lastFailureTime));
    // No attempt at the failed variant before its backoff ends, though this leader never saw it fail.
    await waitFor('the backoff to end', () => Date.now() > retryAt, 20_000, 100);
    expect(applied().filter((l) => l.time! < retryAt && String(l.workloads).includes(corrupted.name))).toEqual([]);
    // Then it tries, it fails, and the wait keeps doubling from where the old leader left it.
    const third = await waitFor('the third failure', async () => (await status())?.failures?.find((f) => f.variant === corrupted.name && f.count === 3), 30_000, 200);
    expect(Date.parse(third.retryAfter) - Date.parse(third.lastFailureTime)).toBe(4 * BACKOFF_MS);
  }, 60_000);
});
