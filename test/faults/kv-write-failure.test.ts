// Invariant: when the KV write to node A fails during a move A->B or during a delete, no
// workload is left on A (its entry, as its agent reads it) one resync after the store takes
// writes again, and a deleted deployment is kept (finalizer) until A's entry no longer holds it.
//
// Real nats-server (JWT auth, TLS), Redis, kube-apiserver and control plane; the fault is a
// refusal of every write to A's key, made by wrapping the control plane's bucket handle (the
// server and the other keys stay untouched), and agents are simulated nodes reading KV as
// agents do.
//
// On the fault suite's layout (lib/topology.ts): the bucket has three copies on a three-server
// NATS cluster (--kv-replicas 3), agents dial the hub, Redis runs behind Sentinel.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Kvm, type KV } from '@nats-io/kv';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Assignment, EMD_PLURAL, GROUP, VERSION, decode, stores } from '@edgeplane/api';
import { kubeConfig } from '@edgeplane/env';
import { TestAgent, waitFor } from '../helpers/agent.ts';
import { applyDeployment, customObjects, detector, ensureNamespace, gpu, runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import { startTopology, type Topology } from './lib/topology.ts';

const RESYNC_MS = 1500;
const run = runId('fault-kvfail');
const kube = inject('kube');
const kc = kubeConfig(kube);
const custom = customObjects(kc);
const A = `${run}-a`;
const B = `${run}-b`;
let topology: Topology;
let cp: ControlPlane;
let kv: KV;
const agents: TestAgent[] = [];
const failing = new Set<string>();
let refused = 0;

/** The bucket handle with every write to a key in `failing` refused. */
function refuseWrites(bucket: KV): KV {
  const writes = new Set<PropertyKey>(['put', 'create', 'update', 'delete', 'purge']);
  return new Proxy(bucket, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (!writes.has(prop)) return value.bind(target);
      return (key: string, ...rest: unknown[]) => {
        if (failing.has(key)) {
          refused++;
          return Promise.reject(new Error(`fault: write to ${key} refused`));
        }
        return (value as (...a: unknown[]) => unknown).call(target, key, ...rest);
      };
    },
  });
}

async function keysIn(node: string): Promise<string[]> {
  const e = await kv.get(node);
  if (!e || e.operation !== 'PUT') return [];
  const d = decode(Assignment, 'assignment', e.value);
  return d.ok ? d.value.workloads.map((w) => w.key) : ['<unreadable>'];
}

const exists = (name: string) =>
  custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: run, plural: EMD_PLURAL, name }).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  topology = await startTopology();
  await ensureNamespace(kc, run);
  cp = await startControlPlane(testConfig({ ...(await topology.controlPlane()), kubeconfigPath: kube.kubeconfigPath, run, resyncMs: RESYNC_MS }), { wrapAssignments: refuseWrites });
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  kv = await new Kvm(await topology.admin()).open(stores.assignments);
  for (const [node, role] of [
    [A, 'a'],
    [B, 'b'],
  ] as const) {
    agents.push(await TestAgent.start({ nats: topology.hub, node, accelerators: [gpu()], power: { source: 'mains' }, network: { type: 'ethernet', bandwidthMbps: 1000 }, labels: { 'edgeplane.io/test-run': run, role } }));
  }
});

afterAll(async () => {
  failing.clear();
  await Promise.all(agents.map((a) => a.stop()));
  await cp?.stop();
  await topology?.stop();
});

const onRole = (role: string) => ({ placement: { selector: { matchLabels: { role } }, maxPerNode: 1 } });

describe('a KV write to node A failing', () => {
  it('during a move A->B leaves no orphan on A one resync after writes succeed again', async () => {
    const key = `${run}/mv`;
    await applyDeployment(kc, detector(run, 'mv', 1, onRole('a')));
    await waitFor('mv on A', async () => (await keysIn(A)).includes(key));

    failing.add(A);
    const before = refused;
    await custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: run, plural: EMD_PLURAL, name: 'mv', body: { spec: onRole('b') } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor('mv on B', async () => (await keysIn(B)).includes(key));
    await waitFor('the write to A refused', () => refused > before);
    // The fault outlasts the reconcile's own retries for a while.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await keysIn(A)).toContain(key);

    failing.delete(A);
    const healed = Date.now();
    await waitFor('A emptied', async () => !(await keysIn(A)).includes(key), RESYNC_MS + 2000, 50);
    expect(Date.now() - healed).toBeLessThanOrEqual(RESYNC_MS + 2000);
    expect(await keysIn(B)).toEqual([key]);
    await waitFor('agent A told', () => agents[0]!.variantOf(key) === undefined);
  });

  it('during a delete keeps the object until A no longer holds it, and no orphan one resync after', async () => {
    const key = `${run}/del`;
    await applyDeployment(kc, detector(run, 'del', 1, onRole('a')));
    await waitFor('del on A', async () => (await keysIn(A)).includes(key));

    failing.add(A);
    const before = refused;
    await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: run, plural: EMD_PLURAL, name: 'del' });
    await waitFor('the write to A refused', () => refused > before);
    await new Promise((r) => setTimeout(r, 1000));
    // Still held by the finalizer, since A's entry still names it.
    expect(await exists('del')).toBe(true);
    expect(await keysIn(A)).toContain(key);

    failing.delete(A);
    await waitFor('A emptied', async () => !(await keysIn(A)).includes(key), RESYNC_MS + 2000, 50);
    await waitFor('the object gone', async () => !(await exists('del')), RESYNC_MS + 2000, 50);
    await waitFor('agent A told', () => agents[0]!.variantOf(key) === undefined);
  });
});
