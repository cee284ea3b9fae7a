// The rendered chart against the shared kube-apiserver: every object of every values case
// passes a server-side dry run (admission, defaulting, strict field validation); the pods
// pass Pod Security admission at the level each needs; `helm install` creates the objects and
// its ServiceAccount may do what the control plane needs and nothing near it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ciValuesDir, chartDir, findObject, helm, render, type K8sObject, type RenderOptions } from './helm.ts';
import { kubeRequest, kubeMessage as message } from '@edgeplane/env';
import { dryRunCreate, ensureNamespace } from './kube-http.ts';

const kube = inject('kube');
const ns = {
  release: 'chart-dry',
  agents: 'chart-dry-agents',
  watchA: 'chart-watch-a',
  watchB: 'chart-watch-b',
  restricted: 'chart-restricted',
  install: 'chart-install',
} as const;
const installRelease = 'chart-ep';

// The values files point at namespaces of their own; here they move to this file's namespaces
// so nothing collides with other test files in the shared API server.
const cases: { name: string; opts: RenderOptions }[] = [
  { name: 'default values', opts: {} },
  { name: 'external-backends-values.yaml', opts: { valuesFiles: [join(ciValuesDir, 'external-backends-values.yaml')], set: [`controlPlane.watchNamespaces={${ns.watchA},${ns.watchB}}`] } },
  { name: 'agents-values.yaml', opts: { valuesFiles: [join(ciValuesDir, 'agents-values.yaml')], set: [`agent.namespace=${ns.agents}`] } },
  { name: 'metrics-values.yaml', opts: { valuesFiles: [join(ciValuesDir, 'metrics-values.yaml')] } },
  { name: 'insecure-lab-values.yaml', opts: { valuesFiles: [join(ciValuesDir, 'insecure-lab-values.yaml')], set: [`agent.namespace=${ns.agents}`] } },
  {
    name: 'cert-manager-values.yaml',
    opts: { valuesFiles: [join(ciValuesDir, 'cert-manager-values.yaml')], set: [`agent.namespace=${ns.agents}`, `tls.certManager.namespace=${ns.release}`] },
  },
];

/** Enough of a third party's CRD for the API server to accept its objects (any fields). */
const stubCrd = (group: string, version: string, kind: string, plural: string) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
    versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
});
/** The Prometheus Operator's ServiceMonitor and cert-manager's Certificate. */
const thirdPartyCrds = [
  stubCrd('monitoring.coreos.com', 'v1', 'ServiceMonitor', 'servicemonitors'),
  stubCrd('monitoring.coreos.com', 'v1', 'PrometheusRule', 'prometheusrules'),
  stubCrd('cert-manager.io', 'v1', 'Certificate', 'certificates'),
];

async function waitEstablished(name: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await kubeRequest(kube, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    const conditions = (res.body as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? [];
    if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`${name} not Established within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A bare Pod from a workload's pod template, to meet Pod Security admission (which enforces on pods only). */
function podFrom(workload: K8sObject, namespace: string, name: string): K8sObject {
  const template = (workload as unknown as { spec: { template: { metadata: { labels: Record<string, string> }; spec: unknown } } }).spec.template;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: template.metadata.labels }, spec: template.spec };
}

beforeAll(async () => {
  await ensureNamespace(kube, ns.release);
  await ensureNamespace(kube, ns.watchA);
  await ensureNamespace(kube, ns.watchB);
  await ensureNamespace(kube, ns.install);
  await ensureNamespace(kube, ns.agents, { 'pod-security.kubernetes.io/enforce': 'privileged' });
  await ensureNamespace(kube, ns.restricted, { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
  for (const stub of thirdPartyCrds) {
    const crd = await kubeRequest(kube, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', stub);
    if (crd.status !== 201 && crd.status !== 409) throw new Error(`${stub.spec.names.kind} CRD: HTTP ${crd.status} ${message(crd)}`);
    await waitEstablished(stub.metadata.name);
  }
});

describe('server-side dry run', () => {
  it.each(cases)('accepts every object rendered with $name', async ({ opts }) => {
    const objects = await render({ ...opts, namespace: ns.release });
    expect(objects.length).toBeGreaterThanOrEqual(9);
    const refused: string[] = [];
    for (const obj of objects) {
      const res = await dryRunCreate(kube, obj, ns.release);
      if (res.status !== 201) refused.push(`${obj.kind}/${obj.metadata.name}: HTTP ${res.status} ${message(res)}`);
      const strictWarnings = res.warnings.filter((w) => /unknown field|duplicate field/.test(w));
      if (strictWarnings.length) refused.push(`${obj.kind}/${obj.metadata.name}: ${strictWarnings.join('; ')}`);
    }
    expect(refused).toEqual([]);
  });

  it('refuses a misspelt field, so the dry run above can fail', async () => {
    const service = findObject(await render({ namespace: ns.release }), 'Service');
    const res = await dryRunCreate(kube, { ...service, spec: { ...(service.spec as object), portz: [] } }, ns.release);
    expect(res.status).toBe(400);
    expect(message(res)).toContain('portz');
  });
});

describe('Pod Security admission', () => {
  it('admits the control-plane pod in a namespace that enforces the restricted level, without warnings', async () => {
    const deployment = findObject(await render({ namespace: ns.restricted }), 'Deployment');
    const res = await dryRunCreate(kube, podFrom(deployment, ns.restricted, 'control-plane-pss'), ns.restricted);
    expect(message(res)).toBe('');
    expect(res.status).toBe(201);
    const workload = await dryRunCreate(kube, { ...deployment, metadata: { ...deployment.metadata, namespace: ns.restricted } }, ns.restricted);
    expect(workload.status).toBe(201);
    expect(workload.warnings.filter((w) => w.includes('PodSecurity'))).toEqual([]);
  });

  it('refuses the agent pod under the restricted level for its host mounts, and admits it under privileged', async () => {
    const objects = await render({ namespace: ns.release, valuesFiles: [join(ciValuesDir, 'agents-values.yaml')], set: [`agent.namespace=${ns.agents}`] });
    const ds = findObject(objects, 'DaemonSet');
    const refused = await dryRunCreate(kube, podFrom(ds, ns.restricted, 'agent-pss'), ns.restricted);
    expect(refused.status).toBe(403);
    expect(message(refused)).toContain('violates PodSecurity "restricted');
    expect(message(refused)).toContain('hostPath');
    const admitted = await dryRunCreate(kube, podFrom(ds, ns.agents, 'agent-pss'), ns.agents);
    expect(message(admitted)).toBe('');
    expect(admitted.status).toBe(201);
  });
});

describe('helm install', () => {
  const kubeconfig = ['--kubeconfig', kube.kubeconfigPath];
  const cp = `${installRelease}-edgeplane-control-plane`;

  afterAll(async () => {
    // Cluster-scoped objects outlive the namespace; take the release away in any case.
    await helm(['uninstall', installRelease, '-n', ns.install, ...kubeconfig]);
  });

  it('installs the release and prints the next step', async () => {
    const res = await helm(['install', installRelease, chartDir, '-n', ns.install, ...kubeconfig], 120_000);
    expect(res.stderr).not.toMatch(/Error/);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('STATUS: deployed');
    expect(res.stdout).toContain(`kubectl -n ${ns.install} rollout status deployment/${cp}`);
    // Secure by default: the notes name the trust Secret the pods wait for, and warn of nothing.
    expect(res.stdout).toContain(`kubectl -n ${ns.install} get secret edgeplane-trust`);
    expect(res.stdout).not.toMatch(/insecure/i);
  });

  it('warns loudly in its notes when nats.insecure is set', async () => {
    const res = await helm(
      ['install', `${installRelease}-lab`, chartDir, '-n', ns.install, '--dry-run=server', ...kubeconfig, '--values', join(ciValuesDir, 'insecure-lab-values.yaml')],
      120_000,
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const notes = res.stdout.slice(res.stdout.indexOf('NOTES:'));
    expect(notes).toContain('WARNING: INSECURE NATS (nats.insecure=true)');
    expect(notes).toContain('WITHOUT TLS AND WITHOUT CREDENTIALS');
    expect(notes).not.toContain('get secret edgeplane-trust');
  });

  it('creates the expected objects', async () => {
    const paths = [
      `/apis/apps/v1/namespaces/${ns.install}/deployments/${cp}`,
      `/api/v1/namespaces/${ns.install}/services/${cp}`,
      `/api/v1/namespaces/${ns.install}/serviceaccounts/${cp}`,
      `/api/v1/namespaces/${ns.install}/secrets/${installRelease}-edgeplane-connections`,
      `/apis/policy/v1/namespaces/${ns.install}/poddisruptionbudgets/${cp}`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns.install}/roles/${cp}-leader-election`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns.install}/rolebindings/${cp}-leader-election`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns.install}/roles/${cp}-bootstrap-tokens`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns.install}/rolebindings/${cp}-bootstrap-tokens`,
      `/apis/rbac.authorization.k8s.io/v1/clusterroles/${cp}`,
      `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${cp}`,
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/edgemodeldeployments.edgeplane.io',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/edgenodes.edgeplane.io',
    ];
    const missing: string[] = [];
    for (const path of paths) {
      const res = await kubeRequest(kube, 'GET', path);
      if (res.status !== 200) missing.push(`${path}: HTTP ${res.status}`);
    }
    expect(missing).toEqual([]);
    const deployment = await kubeRequest(kube, 'GET', paths[0]!);
    expect((deployment.body as { spec: { replicas: number } }).spec.replicas).toBe(2);
    const list = await helm(['list', '-n', ns.install, '-o', 'json', ...kubeconfig]);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: installRelease, status: 'deployed' })]);
  });

  // The API server's own authoriser answers for the installed bindings.
  const sa = () => `system:serviceaccount:${ns.install}:${cp}`;
  const access: { verb: string; group: string; resource: string; subresource?: string; namespace?: string; name?: string; allowed: boolean }[] = [
    { verb: 'watch', group: 'edgeplane.io', resource: 'edgemodeldeployments', namespace: 'anywhere', allowed: true },
    { verb: 'update', group: 'edgeplane.io', resource: 'edgemodeldeployments', subresource: 'status', namespace: 'anywhere', allowed: true },
    { verb: 'update', group: 'edgeplane.io', resource: 'edgemodeldeployments', namespace: 'anywhere', allowed: false },
    { verb: 'delete', group: 'edgeplane.io', resource: 'edgemodeldeployments', namespace: 'anywhere', allowed: false },
    { verb: 'create', group: 'edgeplane.io', resource: 'edgenodes', allowed: true },
    // Departed nodes are collected after --node-gc-after-ms.
    { verb: 'delete', group: 'edgeplane.io', resource: 'edgenodes', allowed: true },
    { verb: 'update', group: 'edgeplane.io', resource: 'edgenodes', subresource: 'status', allowed: true },
    { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: ns.install, allowed: true },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: ns.install, name: 'edgeplane-control-plane', allowed: true },
    { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: ns.install, name: 'someone-elses-lease', allowed: false },
    { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system', name: 'edgeplane-control-plane', allowed: false },
    { verb: 'create', group: 'events.k8s.io', resource: 'events', namespace: 'anywhere', allowed: true },
    // Bootstrap token Secrets: read and counted in the release namespace, nothing more.
    { verb: 'get', group: '', resource: 'secrets', namespace: ns.install, name: 'edgeplane-bootstrap-abc123', allowed: true },
    { verb: 'update', group: '', resource: 'secrets', namespace: ns.install, name: 'edgeplane-bootstrap-abc123', allowed: true },
    { verb: 'list', group: '', resource: 'secrets', namespace: ns.install, allowed: false },
    { verb: 'watch', group: '', resource: 'secrets', namespace: ns.install, allowed: false },
    { verb: 'create', group: '', resource: 'secrets', namespace: ns.install, allowed: false },
    { verb: 'delete', group: '', resource: 'secrets', namespace: ns.install, name: 'edgeplane-bootstrap-abc123', allowed: false },
    { verb: 'get', group: '', resource: 'secrets', namespace: 'kube-system', name: 'edgeplane-bootstrap-abc123', allowed: false },
    { verb: 'list', group: '', resource: 'pods', namespace: ns.install, allowed: false },
  ];
  it.each(access)('the ServiceAccount may $verb $resource $subresource in $namespace: $allowed', async ({ allowed, ...attrs }) => {
    const res = await kubeRequest(kube, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: sa(), groups: ['system:serviceaccounts', `system:serviceaccounts:${ns.install}`], resourceAttributes: attrs },
    });
    expect(res.status).toBe(201);
    expect((res.body as { status: { allowed: boolean } }).status.allowed).toBe(allowed);
  });

  it('uninstalls cleanly, cluster-scoped objects included', async () => {
    const res = await helm(['uninstall', installRelease, '-n', ns.install, '--wait', '--timeout', '60s', ...kubeconfig], 90_000);
    expect(res.code).toBe(0);
    const role = await kubeRequest(kube, 'GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${cp}`);
    expect(role.status).toBe(404);
    // helm leaves CRDs in place on uninstall, so custom resources survive a reinstall.
    const crd = await kubeRequest(kube, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/edgenodes.edgeplane.io');
    expect(crd.status).toBe(200);
  });
});
