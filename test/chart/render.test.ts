// The chart rendered by helm with the default values and each values file under ci/: lint,
// the objects each case must (and must not) contain, the restricted pod settings, and
// environment variables that the control plane and the agent actually read.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1DaemonSet, V1Deployment, V1EnvVar, V1NetworkPolicy, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { SETTINGS as CONTROL_PLANE_SETTINGS } from '../../control-plane/src/config.ts';
import { CONTROL_PLANE_NODE_FLAGS } from '../../control-plane/src/node-flags.ts';
import { SETTINGS as AGENT_SETTINGS, usage as agentUsage } from '../../agent/src/config.ts';
import { crdDir } from '@edgeplane/env';
import { chartDir, ciValuesDir, findObject, helm, parseObjects, render, type K8sObject } from './helm.ts';

const ciFile = (name: string) => join(ciValuesDir, name);
const as = <T>(o: K8sObject) => o as unknown as T;

function env(container: V1Container): Map<string, V1EnvVar> {
  return new Map((container.env ?? []).map((e) => [e.name, e]));
}

/** The restricted Pod Security Standard, field by field, for one container of a pod. */
function expectRestricted(pod: V1PodSpec, container: V1Container): void {
  expect(pod.securityContext?.runAsNonRoot ?? container.securityContext?.runAsNonRoot).toBe(true);
  expect(pod.securityContext?.seccompProfile?.type ?? container.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
  const sc = container.securityContext;
  expect(sc?.allowPrivilegeEscalation).toBe(false);
  expect(sc?.readOnlyRootFilesystem).toBe(true);
  expect(sc?.capabilities?.drop).toEqual(['ALL']);
  expect(sc?.capabilities?.add ?? []).toEqual([]);
  expect(sc?.privileged ?? false).toBe(false);
}

describe('helm lint', () => {
  const cases = [[], ...readdirSync(ciValuesDir).map((f) => [ciFile(f)])];
  it.each(cases.map((files) => ({ files, name: files[0] ? files[0].slice(chartDir.length + 1) : 'default values' })))(
    'passes --strict with $name',
    async ({ files }) => {
      const res = await helm(['lint', '--strict', chartDir, ...files.flatMap((f) => ['--values', f])]);
      expect(res.stdout + res.stderr, 'helm lint output').toContain('0 chart(s) failed');
      expect(res.code).toBe(0);
    },
  );
});

describe('default values', () => {
  it('render the control plane and nothing optional', async () => {
    const objects = await render();
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual(
      // Two Roles and bindings in the release namespace: the leader Lease, bootstrap token Secrets.
      ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Secret', 'Service', 'ServiceAccount'].sort(),
    );
    for (const o of objects) expect(o.metadata.labels?.['app.kubernetes.io/instance'], `${o.kind} labels`).toBe('ep');
  });

  it('run two restricted replicas with probes, requests and limits', async () => {
    const deployment = as<V1Deployment>(findObject(await render(), 'Deployment'));
    const pod = deployment.spec!.template.spec!;
    expect(deployment.spec?.replicas).toBe(2);
    const [container] = pod.containers;
    expect(pod.containers).toHaveLength(1);
    expectRestricted(pod, container!);
    expect(container!.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container!.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container!.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container!.resources?.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container!.image).toBe(`edgeplane/control-plane:${chartAppVersion()}`);
    expect(pod.serviceAccountName).toBe(findObject(await render(), 'ServiceAccount').metadata.name);
  });

  it('serve through a shutdown delay (preStop sleep) where Kubernetes has the action, 1.30 on', async () => {
    const preStop = async (args: string[]) => {
      const res = await helm(args);
      expect(res.code, res.stderr).toBe(0);
      const objects = parseObjects(res.stdout);
      return as<V1Deployment>(findObject(objects, 'Deployment')).spec!.template.spec!.containers[0]!.lifecycle?.preStop;
    };
    const base = ['template', 'ep', chartDir, '--namespace', 'edgeplane'];
    expect(await preStop([...base, '--kube-version', '1.30.0'])).toEqual({ sleep: { seconds: 5 } });
    expect(await preStop([...base, '--kube-version', '1.30.0', '--set', 'controlPlane.shutdownDelaySeconds=12'])).toEqual({ sleep: { seconds: 12 } });
    expect(await preStop([...base, '--kube-version', '1.30.0', '--set', 'controlPlane.shutdownDelaySeconds=0'])).toBeUndefined();
    // On 1.29 the API server would drop the unknown action and refuse an empty handler.
    expect(await preStop([...base, '--kube-version', '1.29.0'])).toBeUndefined();
    const tooLong = await helm([...base, '--kube-version', '1.30.0', '--set', 'controlPlane.shutdownDelaySeconds=60']);
    expect(tooLong.code).not.toBe(0);
    expect(tooLong.stderr).toContain('shutdownDelaySeconds');
  });

  it('keep a standby through node drains: PDB minAvailable 1 over the same pods', async () => {
    const objects = await render();
    const deployment = as<V1Deployment>(findObject(objects, 'Deployment'));
    const pdb = findObject(objects, 'PodDisruptionBudget') as K8sObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec?.selector.matchLabels);
  });

  it('set only environment variables the control plane reads, with the Lease in the release namespace', async () => {
    const objects = await render({ namespace: 'ops', set: ['controlPlane.edgeNodeSelector=site=plant-a'] });
    const container = as<V1Deployment>(findObject(objects, 'Deployment')).spec!.template.spec!.containers[0]!;
    const known = new Set([...CONTROL_PLANE_SETTINGS.map((s) => s.env), 'NODE_OPTIONS']);
    const vars = env(container);
    for (const name of vars.keys()) expect(known, `${name} is not a control-plane setting`).toContain(name);
    // The heap settings the benchmarks measure the control plane with.
    expect(vars.get('NODE_OPTIONS')?.value).toBe(CONTROL_PLANE_NODE_FLAGS.join(' '));
    expect(vars.get('EP_LEASE_NAMESPACE')?.value).toBe('ops');
    expect(vars.get('EP_IDENTITY')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(vars.get('EP_API_ADDR')?.value).toBe('0.0.0.0:8080');
    expect(vars.get('EP_NODE_SELECTOR')?.value).toBe('site=plant-a');
    expect(vars.get('EP_KV_REPLICAS')?.value).toBe('1');
    // The URLs come from the chart's Secret, not from the pod spec.
    const secret = findObject(objects, 'Secret');
    expect(vars.get('EP_NATS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'nats-url' });
    expect(vars.get('EP_REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'redis-url' });
  });

  it('tell the control plane how many copies of its KV bucket to create on a NATS cluster', async () => {
    const objects = await render({ set: ['nats.kvReplicas=3'] });
    const container = as<V1Deployment>(findObject(objects, 'Deployment')).spec!.template.spec!.containers[0]!;
    expect(env(container).get('EP_KV_REPLICAS')?.value).toBe('3');
  });

  it("tell the control plane the sites' JetStream domains, whose mirrors it keeps following the hub", async () => {
    const container = async (set: string[]) => as<V1Deployment>(findObject(await render({ set }), 'Deployment')).spec!.template.spec!.containers[0]!;
    expect(env(await container([])).has('EP_SITE_DOMAINS')).toBe(false);
    expect(env(await container(['nats.siteDomains={site-a,site-b}'])).get('EP_SITE_DOMAINS')?.value).toBe('site-a,site-b');
  });

  it('expose the API port through the Service', async () => {
    const objects = await render();
    const service = as<V1Service>(findObject(objects, 'Service'));
    const deployment = as<V1Deployment>(findObject(objects, 'Deployment'));
    expect(service.spec?.selector).toEqual(deployment.spec?.selector.matchLabels);
    const port = deployment.spec!.template.spec!.containers[0]!.ports!.find((p) => p.name === 'http');
    expect(service.spec?.ports?.[0]).toMatchObject({ name: 'http', targetPort: 'http' });
    expect(port?.containerPort).toBe(8080);
  });
});

describe('ci/external-backends-values.yaml', () => {
  it('splices NATS credentials from a Secret into the URL, and takes the Redis URL whole from another', async () => {
    const objects = await render({ valuesFiles: [ciFile('external-backends-values.yaml')] });
    const container = as<V1Deployment>(findObject(objects, 'Deployment')).spec!.template.spec!.containers[0]!;
    const names = (container.env ?? []).map((e) => e.name);
    const vars = env(container);
    expect(vars.get('EP_NATS_URL')?.value).toBe('tls://$(EP_NATS_USERNAME):$(EP_NATS_PASSWORD)@nats.example.internal:4222');
    // $(VAR) expands only variables defined earlier in the list.
    expect(names.indexOf('EP_NATS_USERNAME')).toBeLessThan(names.indexOf('EP_NATS_URL'));
    expect(names.indexOf('EP_NATS_PASSWORD')).toBeLessThan(names.indexOf('EP_NATS_URL'));
    expect(vars.get('EP_NATS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'edgeplane-nats-auth', key: 'password' });
    expect(vars.get('EP_REDIS_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'edgeplane-redis-url', key: 'url' });
    expect(vars.get('EP_NAMESPACES')?.value).toBe('warehouse,plant-a');
  });

  it('grants EdgeModelDeployments per watched namespace instead of cluster-wide', async () => {
    const objects = await render({ valuesFiles: [ciFile('external-backends-values.yaml')] });
    const clusterRole = findObject(objects, 'ClusterRole') as K8sObject & { rules: { resources: string[] }[] };
    expect(clusterRole.rules.flatMap((r) => r.resources)).not.toContain('edgemodeldeployments');
    // The release namespace's own Roles (the Lease, bootstrap tokens) aside.
    const releaseScoped = (o: K8sObject) => /-(leader-election|bootstrap-tokens)$/.test(o.metadata.name);
    const roles = objects.filter((o) => o.kind === 'Role' && !releaseScoped(o));
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['plant-a', 'warehouse']);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' && !releaseScoped(o));
    expect(bindings.map((r) => r.metadata.namespace).sort()).toEqual(['plant-a', 'warehouse']);
  });
});

describe('ci/agents-values.yaml', () => {
  it('runs agents on the selected nodes with read-only host mounts, enrolling with a join token and a CA pin', async () => {
    const objects = await render({ valuesFiles: [ciFile('agents-values.yaml')] });
    const ds = as<V1DaemonSet>(findObject(objects, 'DaemonSet'));
    expect(ds.metadata?.namespace).toBe('edgeplane-agents');
    const pod = ds.spec!.template.spec!;
    expect(pod.nodeSelector).toEqual({ 'node-role.edgeplane.io/edge': 'true' });
    expect(pod.automountServiceAccountToken).toBe(false);
    const agent = pod.containers.find((c) => c.name === 'agent')!;
    const mounts = new Map((agent.volumeMounts ?? []).map((m) => [m.name, m]));
    const hostPaths = new Map((pod.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath!.path]));
    for (const [volume, path] of [['host-sys', '/sys'], ['host-dev', '/dev'], ['host-proc', '/proc']] as const) {
      expect(hostPaths.get(volume)).toBe(path);
      expect(mounts.get(volume)).toMatchObject({ mountPath: `/host${path}`, readOnly: true });
    }
    // Only the agent's own state and cache directories are writable host paths.
    const writable = [...hostPaths.keys()].filter((v) => mounts.get(v) && !mounts.get(v)!.readOnly).sort();
    expect(writable).toEqual(['cache', 'state']);
    const vars = env(agent);
    expect(vars.get('EP_AGENT_ROOT')?.value).toBe('/host');
    expect(vars.get('EP_AGENT_NODE')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    expect(vars.has('EP_AGENT_NATS_CREDS')).toBe(false);
    expect(vars.get('EP_AGENT_BOOTSTRAP_TOKEN_FILE')?.value).toBe(`${mounts.get('bootstrap-token')?.mountPath}/token`);
    expect(pod.volumes?.find((v) => v.name === 'bootstrap-token')?.secret?.secretName).toBe('edgeplane-join-plant-a');
    expect(vars.get('EP_AGENT_CA_HASH')?.value).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(vars.get('EP_AGENT_TRUST_PUBLIC_KEYS')?.value).toBe(
      ['release-2025.pub', 'release-2026.pub'].map((k) => `${mounts.get('model-keys')?.mountPath}/${k}`).join(','),
    );
    // The trust policy's two variables are documented beside the settings table.
    const known = new Set([...AGENT_SETTINGS.map((s) => s.env), ...(agentUsage().match(/EP_AGENT_[A-Z_]+/g) ?? [])]);
    for (const name of vars.keys()) expect(known, `${name} is not an agent setting`).toContain(name);
    expect(agent.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  it('refuses to put agents on every node', async () => {
    const res = await helm(['template', 'ep', chartDir, '--kube-version', '1.33.0', '--set', 'agent.enabled=true']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('nodeSelector');
  });
});

describe('ci/metrics-values.yaml', () => {
  it('adds a ServiceMonitor on the Service and a NetworkPolicy around the control plane', async () => {
    const objects = await render({ valuesFiles: [ciFile('metrics-values.yaml')] });
    const service = as<V1Service>(findObject(objects, 'Service'));
    const monitor = findObject(objects, 'ServiceMonitor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(monitor.spec.selector.matchLabels).toEqual(
      Object.fromEntries(Object.entries(service.metadata?.labels ?? {}).filter(([k]) => k in monitor.spec.selector.matchLabels)),
    );
    expect(service.spec?.ports?.map((p) => p.name)).toContain(monitor.spec.endpoints[0]?.port);
    expect(monitor.spec.endpoints[0]?.path).toBe('/metrics');
    const deployment = as<V1Deployment>(findObject(objects, 'Deployment'));
    const policy = as<V1NetworkPolicy>(findObject(objects, 'NetworkPolicy'));
    expect(policy.spec?.podSelector?.matchLabels).toEqual(deployment.spec?.selector.matchLabels);
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec?.egress?.[0]?.ports?.map((p) => p.port)).toEqual(expect.arrayContaining([53, 443, 4222, 6379]));
  });
});

describe('controlPlane.metricsAuth', () => {
  type Monitor = K8sObject & { spec: { endpoints: { bearerTokenFile?: string }[] } };
  const metricsEnv = (objects: K8sObject[]) => env(as<V1Deployment>(findObject(objects, 'Deployment')).spec!.template.spec!.containers[0]!).get('EP_METRICS_AUTH')?.value;

  it('puts /metrics behind RBAC by default, with Prometheus presenting its ServiceAccount token', async () => {
    expect(metricsEnv(await render())).toBe('rbac');
    const objects = await render({ valuesFiles: [ciFile('metrics-values.yaml')] });
    expect((findObject(objects, 'ServiceMonitor') as Monitor).spec.endpoints[0]?.bearerTokenFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  it('opens /metrics, and sends no token, when set to none', async () => {
    const objects = await render({ valuesFiles: [ciFile('metrics-values.yaml')], set: ['controlPlane.metricsAuth=none'] });
    expect(metricsEnv(objects)).toBe('none');
    expect((findObject(objects, 'ServiceMonitor') as Monitor).spec.endpoints[0]?.bearerTokenFile).toBeUndefined();
  });
});

describe('deploy/k3s.md', () => {
  const doc = () => readFileSync(join(chartDir, '..', '..', 'deploy', 'k3s.md'), 'utf8');
  const CA_HASH = `sha256:${'c0ffee42'.repeat(8)}`;

  it('uses values the chart accepts, with agents on the edge nodes, enrolling over TLS', async () => {
    const block = /```yaml\n# edgeplane-values\.yaml\n([\s\S]*?)```/.exec(doc())?.[1];
    expect(block, 'the edgeplane-values.yaml block in deploy/k3s.md').toBeTruthy();
    const file = join(mkdtempSync(join(tmpdir(), 'ep-k3s-values-')), 'values.yaml');
    writeFileSync(file, block!);
    // The guide's install line adds the CA pin `edgeplane certs` printed.
    expect(doc()).toContain('-f edgeplane-values.yaml --set agent.caHash="$CA_HASH"');
    const objects = await render({ valuesFiles: [file], set: [`agent.caHash=${CA_HASH}`] });
    const ds = as<V1DaemonSet>(findObject(objects, 'DaemonSet'));
    expect(ds.metadata?.namespace).toBe('edgeplane-agents');
    const cp = as<V1Deployment>(findObject(objects, 'Deployment')).spec!.template.spec!;
    const vars = env(cp.containers[0]!);
    expect(vars.get('EP_REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({ name: 'edgeplane-redis', key: 'password' });
    expect(vars.get('EP_REDIS_URL')?.value).toBe('redis://:$(EP_REDIS_PASSWORD)@redis-master.redis.svc.cluster.local:6379');
    expect(vars.has('EP_INSECURE_NATS')).toBe(false);
    const agent = env(ds.spec!.template.spec!.containers.find((c) => c.name === 'agent')!);
    expect(agent.get('EP_AGENT_CA_HASH')?.value).toBe(CA_HASH);
    expect(agent.get('EP_AGENT_NATS_URL')?.value).toMatch(/^tls:\/\//);
    // The Secrets the guide creates are the ones the render reads, with the keys it mounts.
    const secretVolumes = (pod: V1PodSpec) => (pod.volumes ?? []).flatMap((v) => (v.secret?.secretName ? [v.secret] : []));
    for (const secret of [...secretVolumes(cp), ...secretVolumes(ds.spec!.template.spec!)]) {
      const create = new RegExp(`create secret generic ${secret.secretName} (\\\\\\n|[^\\n])*`).exec(doc())?.[0];
      expect(create, `deploy/k3s.md creates Secret ${secret.secretName}`).toBeTruthy();
      for (const item of secret.items ?? []) expect(create, `${secret.secretName} key ${item.key}`).toContain(`--from-file=${item.key}=`);
    }
  });

  it('gives no insecure instructions', () => {
    expect(doc()).not.toMatch(/insecure|nats:\/\//i);
  });
});

describe('chart CRDs', () => {
  it('are byte for byte the generated crds/', () => {
    const chartCrds = join(chartDir, 'crds');
    const files = readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort();
    expect(readdirSync(chartCrds).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(chartCrds, f), 'utf8'), f).toBe(readFileSync(join(crdDir, f), 'utf8'));
  });
});

function chartAppVersion(): string {
  return /^appVersion:\s*"?([^"\s]+)"?/m.exec(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'))?.[1] ?? '';
}
