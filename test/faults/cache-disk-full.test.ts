// Invariant: when the artifact cache's disk has no room for a variant (too small from the start,
// or filling up during the download), the placement says CacheDiskFull in status and in an
// Event, the cache keeps nothing partial or unverified, and the replica runs the next variant
// that fits.
//
// On the fault suite's layout (lib/topology.ts): the assignments bucket and the model store have
// three copies on a three-server NATS cluster, the agent dials one hub server through Toxiproxy
// (the download is slowed there), the control plane finds Redis through Sentinel. A replica that
// has not stored the fallback's assignment yet may answer the agent's read; the agent then reads
// again, so the fallback still arrives.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import type { ObjectStore } from '@nats-io/obj';
import { serveTag } from '@edgeplane/trust';
import { kubeConfig, startToxiproxy, type ToxiProxy, type ToxiproxyServer } from '@edgeplane/env';
import type { EdgeModelDeploymentStatus } from '@edgeplane/api';
import { waitFor } from '../helpers/agent.ts';
import { applyDeployment, ensureNamespace, getDeployment, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { blobVariant, deployment, eventsOf, pushVariant, startAgentChild, tinyVariant, type AgentChild } from './lib/failure-kit.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const run = runId('fault-disk-full');
const kube = inject('kube');
const kc = kubeConfig(kube);
const HEARTBEAT_MS = 500;
const DISK_BYTES = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'ep-fault-disk-full-'));
const node = `${run}-n1`;
const cacheDir = join(dir, 'cache');
let mounted = false;
let topology: Topology;
let toxiproxy: ToxiproxyServer;
let proxy: ToxiProxy;
let os: ObjectStore;
let cp: ControlPlane;
let agent: AgentChild;

const status = async (name: string): Promise<EdgeModelDeploymentStatus | undefined> => (await getDeployment(kc, run, name)).status;

/** Nothing partial, and every blob hashes to its name. */
function cacheIsClean(): { partial: string[]; corrupt: string[]; blobs: string[] } {
  const blobs = readdirSync(join(cacheDir, 'blobs'));
  const corrupt = blobs.filter((b) => createHash('sha256').update(readFileSync(join(cacheDir, 'blobs', b))).digest('hex') !== b);
  return { partial: readdirSync(join(cacheDir, 'partial')), corrupt, blobs };
}

beforeAll(async () => {
  mkdirSync(cacheDir);
  // A real file system of 1 MiB: writes past it fail with ENOSPC, as on a full SD card.
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', cacheDir]);
  mounted = true;
  [topology, toxiproxy] = await Promise.all([startTopology(), startToxiproxy()]);
  proxy = await toxiproxy.proxy('nats', topology.cluster.servers[0]!.port);
  await ensureNamespace(kc, run);
  os = await topology.models();
  cp = await startControlPlane(
    testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run, heartbeatIntervalMs: HEARTBEAT_MS, nodeMonitorGracePeriodMs: 10 * HEARTBEAT_MS, failureBackoffInitialMs: 30_000 }),
  );
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  // Serving over NATS from the start: no credential renewal (this control plane signs none) to load.
  agent = await startAgentChild({ nats: topology.hub, node, run, dir, cacheDir, natsUrl: `tls://127.0.0.1:${proxy.port}`, tags: ['m', 'n'].map((d) => serveTag(run, d)) });
}, 60_000);

afterAll(async () => {
  await agent?.proc.stop(5000);
  await cp?.stop();
  await Promise.all([topology?.stop(), toxiproxy?.stop()]);
  if (mounted) execFileSync('umount', ['-l', cacheDir]);
  rmSync(dir, { recursive: true, force: true });
});

describe('a full cache disk', () => {
  it('refuses a variant bigger than the disk with a clear reason, and the next variant serves', async () => {
    onTestFailed(() => console.log(`--- agent log\n${agent.proc.tail(30)}`));
    const big = blobVariant('m-fp32', 'fp32', 0.95, 3 * DISK_BYTES);
    const small = tinyVariant('m-int8', 'int8', 0.9);
    await pushVariant(os, big);
    await pushVariant(os, small);
    await applyDeployment(kc, deployment(run, 'm', [big, small]));

    const failure = await waitFor('the failure in status', async () => (await status('m'))?.failures?.find((f) => f.variant === big.name), 30_000, 100);
    expect(failure).toMatchObject({ node, reason: 'CacheDiskFull' });
    expect(failure.message).toMatch(/^no space left on the artifact cache disk: \d+ bytes needed, \d+ free$/);
    const event = await waitFor('a VariantFailed Event', async () => (await eventsOf(kc, run, 'm')).find((e) => e.reason === 'VariantFailed'), 10_000);
    expect(event.note).toContain(`${big.name} failed on ${node} (CacheDiskFull)`);

    const serving = await waitFor('the variant that fits Ready', async () => (await status('m'))?.placements?.find((p) => p.variant === small.name && p.phase === 'Ready'), 30_000, 100);
    expect(serving.node).toBe(node);
    expect(cacheIsClean()).toEqual({ partial: [], corrupt: [], blobs: [small.sha256] });
  }, 60_000);

  it('gives the room back when the disk fills up during a download', async () => {
    onTestFailed(() => console.log(`--- agent log\n${agent.proc.tail(30)}`));
    // Fits the free space when the download starts...
    const medium = blobVariant('n-fp32', 'fp32', 0.95, 600 * 1024);
    await pushVariant(os, medium);
    await proxy.addToxic({ type: 'bandwidth', attributes: { rate: 64 } }, { stream: 'downstream', name: 'slow' });
    await applyDeployment(kc, deployment(run, 'n', [medium]));
    const part = join(cacheDir, 'partial', `${medium.sha256}.part`);
    await waitFor('the download under way', () => {
      try {
        return statSync(part).size >= 64 * 1024;
      } catch {
        return false;
      }
    }, 30_000, 50);
    // ...until something else on the node takes the rest of the disk.
    const fs = statfsSync(cacheDir);
    writeFileSync(join(cacheDir, 'filler'), Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 16 * 1024)));
    const failure = await waitFor('the failure in status', async () => (await status('n'))?.failures?.find((f) => f.variant === medium.name), 30_000, 100);
    await proxy.removeToxic('slow');
    expect(failure).toMatchObject({ node, reason: 'CacheDiskFull' });
    // From the write that failed (ENOSPC), not from the check before the download.
    expect(failure.message).toMatch(/^no space left on the artifact cache disk for \d+ bytes$/);
    // The partial file is gone (the disk is not left full), and what is cached is intact.
    const clean = cacheIsClean();
    expect(clean.partial).toEqual([]);
    expect(clean.corrupt).toEqual([]);
    expect(clean.blobs).not.toContain(medium.sha256);
  }, 60_000);
});
