// The chart's RBAC grants exactly what the control plane calls: the calls are read from
// control-plane/src (client-node methods and watches, plus the table kept beside the
// clients), the grants from the rendered ClusterRole and Roles. A new call without a rule,
// or a rule without a call, fails here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCrds, repoRoot } from '@edgeplane/env';
import { render } from './helm.ts';
import { callsInSource, declaredCalls, grantsOf, permission, permissionsOfCall, type CustomResources, type Permission } from './rbac-calls.ts';

const controlPlaneSrc = join(repoRoot, 'control-plane', 'src');

function customResources(): CustomResources {
  const crds = readCrds();
  const group = crds[0]!.spec.group;
  const plurals = (scope: string) => crds.filter((c) => c.spec.scope === scope).map((c) => c.spec.names.plural).sort();
  return { group, namespaced: plurals('Namespaced'), cluster: plurals('Cluster') };
}

const crs = customResources();

describe('mapping a client-node call to the permission it needs', () => {
  const rows: { cls: string; method: string; want: Permission[] | null }[] = [
    { cls: 'CustomObjectsApi', method: 'listCustomObjectForAllNamespaces', want: ['edgeplane.io edgemodeldeployments list'] },
    { cls: 'CustomObjectsApi', method: 'replaceNamespacedCustomObjectStatus', want: ['edgeplane.io edgemodeldeployments/status update'] },
    { cls: 'CustomObjectsApi', method: 'patchClusterCustomObjectStatus', want: ['edgeplane.io edgenodes/status patch'] },
    { cls: 'CustomObjectsApi', method: 'createClusterCustomObject', want: ['edgeplane.io edgenodes create'] },
    { cls: 'CustomObjectsApi', method: 'deleteCollectionNamespacedCustomObjectWithHttpInfo', want: ['edgeplane.io edgemodeldeployments deletecollection'] },
    { cls: 'CoordinationV1Api', method: 'readNamespacedLease', want: ['coordination.k8s.io leases get'] },
    { cls: 'EventsV1Api', method: 'createNamespacedEvent', want: ['events.k8s.io events create'] },
    { cls: 'CoreV1Api', method: 'patchNamespacedEvent', want: ['core events patch'] },
    { cls: 'CoreV1Api', method: 'listNamespacedPod', want: ['core pods list'] },
    { cls: 'AppsV1Api', method: 'replaceNamespacedDeploymentScale', want: ['apps deployments/scale update'] },
    { cls: 'RbacAuthorizationV1Api', method: 'readClusterRole', want: ['rbac.authorization.k8s.io clusterroles get'] },
    { cls: 'NetworkingV1Api', method: 'createNamespacedIngress', want: ['networking.k8s.io ingresses create'] },
    { cls: 'CustomObjectsApi', method: 'getAPIResources', want: null },
  ];
  it.each(rows)('$cls.$method -> $want', ({ cls, method, want }) => {
    expect(permissionsOfCall(cls, method, crs)).toEqual(want);
  });

  it('charges a method two classes share to the client it is called on, and to both when it cannot tell', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ep-rbac-src-'));
    try {
      writeFileSync(join(dir, 'client.ts'), 'const c = { events: kc.makeApiClient(EventsV1Api), core: kc.makeApiClient(CoreV1Api) };\n');
      writeFileSync(join(dir, 'use.ts'), ['await o.events.createNamespacedEvent({});', 'await o.core.readNamespacedSecret({});', 'await client.createNamespacedEvent({});'].join('\n'));
      const byLine = new Map(callsInSource(dir, crs).filter((c) => c.file === 'use.ts').map((c) => [c.line, c.permissions]));
      expect(byLine.get(1)).toEqual(['events.k8s.io events create']);
      expect(byLine.get(2)).toEqual(['core secrets get']);
      expect(byLine.get(3)).toEqual(['events.k8s.io events create', 'core events create']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to guess for a method it does not know', () => {
    expect(() => permissionsOfCall('CoordinationV1Api', 'connectGetNamespacedPodExec', crs)).toThrow(/no RBAC mapping/);
  });
});

describe('the control plane against the chart', () => {
  const calls = callsInSource(controlPlaneSrc, crs);
  const declared = declaredCalls(controlPlaneSrc);
  const needed = new Set<Permission>([...declared, ...calls.flatMap((c) => c.permissions)]);

  it('finds the Kubernetes calls in control-plane/src', () => {
    // Watches at least, and the status writes; a parse that finds nothing would prove nothing.
    expect(calls.some((c) => c.call === 'watch')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(declared.length).toBeGreaterThanOrEqual(3);
  });

  // Secrets are bootstrap tokens: without trust material (nats.insecure) nothing enrols, so
  // nothing reads them and the chart grants none.
  const isSecret = (p: Permission) => p.startsWith('core secrets ');
  const variants = [
    { name: 'all namespaces', set: [] as string[], enrolment: true },
    { name: 'two watched namespaces', set: ['controlPlane.watchNamespaces={team-a,team-b}'], enrolment: true },
    { name: 'nats.insecure', set: ['nats.insecure=true', 'nats.url=nats://nats:4222', 'trust.existingSecret='], enrolment: false },
  ];

  it.each(variants)('grants every call, and nothing else ($name)', async ({ set, enrolment }) => {
    const grants = grantsOf(await render({ set, namespace: 'edgeplane' }));
    const granted = new Set(grants.map((g) => g.permission));
    const made = (p: Permission) => enrolment || !isSecret(p);
    const missing = calls.flatMap((c) => c.permissions.filter((p) => made(p) && !granted.has(p)).map((p) => `${c.file}:${c.line} ${c.call} needs ${p}`));
    missing.push(...declared.filter((p) => made(p) && !granted.has(p)).map((p) => `declared ${p} is not granted`));
    expect(missing).toEqual([]);
    const extra = [...granted].filter((p) => !needed.has(p)).map((p) => `granted ${p}, which the control plane never calls`);
    expect(extra).toEqual([]);
    expect(grants.filter((g) => g.permission.includes('*'))).toEqual([]);
  });

  it('would catch a new call without a rule', async () => {
    const granted = new Set(grantsOf(await render()).map((g) => g.permission));
    for (const [cls, method] of [['CustomObjectsApi', 'deleteNamespacedCustomObject'], ['CoreV1Api', 'deleteNamespacedSecret'], ['CoreV1Api', 'readNamespacedConfigMap'], ['CoordinationV1Api', 'deleteNamespacedLease']] as const) {
      const wanted = permissionsOfCall(cls, method, crs)!;
      expect(wanted.some((p) => !granted.has(p)), `${cls}.${method}`).toBe(true);
    }
  });

  it('grants leases only in the release namespace, and get and update on the one Lease', async () => {
    const grants = grantsOf(await render({ namespace: 'ops', set: ['controlPlane.leaderElection.leaseName=ep-leader'] }));
    const leases = grants.filter((g) => g.permission.startsWith('coordination.k8s.io leases '));
    expect(leases.length).toBeGreaterThan(0);
    for (const g of leases) {
      expect(g.scope, g.permission).toBe('namespace ops');
      // create cannot be limited by name; every other verb must be.
      if (!g.permission.endsWith(' create')) expect(g.resourceNames, g.permission).toEqual(['ep-leader']);
    }
  });

  it('grants Secrets in the release namespace only (bootstrap tokens), never cluster-wide, and none with nats.insecure', async () => {
    const grants = grantsOf(await render({ namespace: 'ops', set: ['controlPlane.watchNamespaces={team-a}'] }));
    const secrets = grants.filter((g) => isSecret(g.permission));
    expect(secrets.map((g) => g.permission).sort()).toEqual(['get', 'update'].map((v) => permission('', 'secrets', v)));
    for (const g of secrets) expect(g.scope, g.permission).toBe('namespace ops');
    const insecure = grantsOf(await render({ set: ['nats.insecure=true', 'nats.url=nats://nats:4222'] }));
    expect(insecure.filter((g) => isSecret(g.permission))).toEqual([]);
  });

  it('keeps EdgeModelDeployments and their Events inside the watched namespaces when some are set', async () => {
    const grants = grantsOf(await render({ set: ['controlPlane.watchNamespaces={team-a,team-b}'] }));
    const scoped = grants.filter((g) => g.permission.includes(' edgemodeldeployments') || g.permission.includes(' events '));
    expect(scoped.length).toBeGreaterThan(0);
    expect([...new Set(scoped.map((g) => g.scope))].sort()).toEqual(['namespace team-a', 'namespace team-b']);
    expect(grants.filter((g) => g.scope === 'cluster').map((g) => g.permission)).toEqual(
      expect.arrayContaining([permission('edgeplane.io', 'edgenodes', 'watch')]),
    );
  });
});
