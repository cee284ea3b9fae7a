// The chart renders the secure setup by default: TLS URLs, the trust Secret mounted read-only
// into the control plane alone, agents that enrol with a join token and pin the CA instead of
// sharing a NATS credential, signed models required. nats.insecure is the one loud way out,
// and tls.certManager adds the NATS server's certificate. The rendered environment is fed to
// the programs' own configuration parsers, so a flag the chart sets and they do not read, or a
// combination their security checks refuse, fails here.
import { join } from 'node:path';
import type { V1ConfigMapVolumeSource, V1Container, V1DaemonSet, V1Deployment, V1EnvVar, V1PodSpec, V1SecretVolumeSource, V1VolumeMount } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseConfig as parseControlPlaneConfig, SETTINGS as CONTROL_PLANE_SETTINGS } from '../../control-plane/src/config.ts';
import { parseConfig as parseAgentConfig, usage as agentUsage } from '../../agent/src/config.ts';
import { ciValuesDir, findObject, render, type K8sObject } from './helm.ts';

const as = <T>(o: K8sObject) => o as unknown as T;
const CA_HASH = `sha256:${'0123456789abcdef'.repeat(4)}`;
/** The least an operator sets to run agents: where, and the fleet CA's pin. */
const AGENT_ON = ['agent.enabled=true', 'agent.nodeSelector.site=plant-a', `agent.caHash=${CA_HASH}`];
const INSECURE = ['nats.insecure=true', 'nats.url=nats://nats.lab:4222', 'agent.natsUrl=nats://nats.lab:4222', 'trust.existingSecret='];

const controlPlanePod = (objects: K8sObject[]): V1PodSpec => as<V1Deployment>(findObject(objects, 'Deployment')).spec!.template.spec!;
const agentPod = (objects: K8sObject[]): V1PodSpec => as<V1DaemonSet>(findObject(objects, 'DaemonSet')).spec!.template.spec!;
const vars = (c: V1Container) => new Map<string, V1EnvVar>((c.env ?? []).map((e) => [e.name, e]));
const value = (c: V1Container, name: string) => vars(c).get(name)?.value;

/** The mount that holds `path`, and the volume behind it. */
function mountOf(pod: V1PodSpec, container: V1Container, path: string): { mount: V1VolumeMount; secret?: V1SecretVolumeSource; configMap?: V1ConfigMapVolumeSource } {
  const mount = (container.volumeMounts ?? []).find((m) => path.startsWith(`${m.mountPath}/`));
  if (!mount) throw new Error(`${path} is on no volume of ${container.name}`);
  const volume = pod.volumes?.find((v) => v.name === mount.name);
  return { mount, ...(volume?.secret ? { secret: volume.secret } : {}), ...(volume?.configMap ? { configMap: volume.configMap } : {}) };
}

/** The file at `path` comes from this Secret key (projected with items), read-only. */
function expectSecretFile(pod: V1PodSpec, container: V1Container, path: string, secretName: string, key: string): V1SecretVolumeSource {
  const { mount, secret } = mountOf(pod, container, path);
  expect(mount.readOnly, `${mount.name} mount`).toBe(true);
  expect(secret?.secretName, path).toBe(secretName);
  expect(secret?.items).toContainEqual({ key, path: path.slice(mount.mountPath.length + 1) });
  return secret!;
}

/** The environment a pod's container starts with: Secret references resolved from the render, field references given. */
function plainEnv(objects: K8sObject[], container: V1Container, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of container.env ?? []) {
    const ref = v.valueFrom?.secretKeyRef;
    if (ref) {
      const secret = findObject(objects, 'Secret', ref.name) as K8sObject & { stringData: Record<string, string> };
      out[v.name] = secret.stringData[ref.key]!;
    } else if (v.valueFrom?.fieldRef) {
      out[v.name] = fields[v.valueFrom.fieldRef.fieldPath]!;
    } else {
      out[v.name] = v.value ?? '';
    }
  }
  return out;
}

describe('the default render', () => {
  it('says insecure nowhere', async () => {
    const text = JSON.stringify(await render());
    expect(text).not.toMatch(/insecure/i);
    const withAgents = JSON.stringify(await render({ set: AGENT_ON }));
    expect(withAgents).not.toMatch(/insecure/i);
  });

  it('dials NATS over TLS, control plane and agents alike', async () => {
    const objects = await render({ set: AGENT_ON });
    const connections = findObject(objects, 'Secret') as K8sObject & { stringData: Record<string, string> };
    expect(connections.stringData['nats-url']).toMatch(/^tls:\/\//);
    const [agent] = agentPod(objects).containers;
    expect(value(agent!, 'EP_AGENT_NATS_URL')).toMatch(/^tls:\/\//);
  });

  it('mounts the trust Secret read-only into the control plane: its creds, the CA and the trust material', async () => {
    const objects = await render({ namespace: 'fleet' });
    const pod = controlPlanePod(objects);
    const [cp] = pod.containers;
    const files = { EP_NATS_CREDS: 'control-plane.creds', EP_NATS_CA: 'ca.pem', EP_TRUST_FILE: 'trust.json' } as const;
    for (const [name, key] of Object.entries(files)) {
      const path = value(cp!, name);
      expect(path, name).toBeTruthy();
      const secret = expectSecretFile(pod, cp!, path!, 'edgeplane-trust', key);
      // Seeds: the owner and the pod's group only, never the world.
      expect(secret.defaultMode! & 0o007, 'world bits').toBe(0);
      expect(secret.optional ?? false).toBe(false);
    }
    // Bootstrap token Secrets live beside the control plane, whose Role reaches only there.
    expect(value(cp!, 'EP_BOOTSTRAP_NAMESPACE')).toBe('fleet');
    expect(value(cp!, 'EP_NODE_CREDENTIAL_TTL')).toBe('24h');
  });

  it('is a configuration the control plane accepts as secure: credentials, CA, trust file, no opt-out', async () => {
    const objects = await render({ namespace: 'fleet' });
    const [cp] = controlPlanePod(objects).containers;
    const parsed = parseControlPlaneConfig({ env: plainEnv(objects, cp!, { 'metadata.name': 'cp-0' }) });
    if (parsed.help) throw new Error('unexpected help');
    expect(parsed.config).toMatchObject({
      insecureNats: false,
      natsCreds: `${mountOf(controlPlanePod(objects), cp!, value(cp!, 'EP_NATS_CREDS')!).mount.mountPath}/control-plane.creds`,
      trustFile: expect.stringMatching(/\/trust\.json$/),
      natsCa: expect.stringMatching(/\/ca\.pem$/),
      bootstrapNamespace: 'fleet',
      nodeCredentialTtlMs: 24 * 3600 * 1000,
    });
    const known = new Set(CONTROL_PLANE_SETTINGS.map((s) => s.env));
    // NODE_OPTIONS is read by Node itself (the heap settings the chart pins), not by the control plane.
    for (const name of vars(cp!).keys()) if (name !== 'NODE_OPTIONS') expect(known, `${name} is not a control-plane setting`).toContain(name);
  });

  it('gives agents no shared NATS credential: a join token, the CA pin and a state dir on the host', async () => {
    const objects = await render({ set: AGENT_ON, namespace: 'fleet' });
    const pod = agentPod(objects);
    const agent = pod.containers.find((c) => c.name === 'agent')!;
    const env = vars(agent);
    expect(env.has('EP_AGENT_NATS_CREDS')).toBe(false);
    expect(env.has('EP_AGENT_BOOTSTRAP_TOKEN')).toBe(false);
    // No volume of the agent carries a credentials file, and the trust Secret never reaches it.
    expect(JSON.stringify(pod)).not.toMatch(/\.creds|edgeplane-trust/);
    const token = expectSecretFile(pod, agent, value(agent, 'EP_AGENT_BOOTSTRAP_TOKEN_FILE')!, 'edgeplane-agent-bootstrap', 'token');
    // Needed once: agents that enrolled keep running after the Secret is deleted.
    expect(token.optional).toBe(true);
    expect(value(agent, 'EP_AGENT_CA_HASH')).toBe(CA_HASH);
    // The per-node credential lands in the state dir: a writable host path that outlives the pod.
    const stateDir = value(agent, 'EP_AGENT_STATE_DIR')!;
    const state = (agent.volumeMounts ?? []).find((m) => m.mountPath === stateDir);
    expect(state?.readOnly ?? false).toBe(false);
    expect(pod.volumes?.find((v) => v.name === state?.name)?.hostPath).toEqual({ path: '/var/lib/edgeplane-agent', type: 'DirectoryOrCreate' });
    expect(pod.securityContext?.fsGroup).toBe(agent.securityContext?.runAsGroup);
  });

  it('makes agents require signed models, trusting the keys of the model-keys Secret', async () => {
    const objects = await render({ set: [...AGENT_ON, 'agent.modelTrust.publicKeysSecret.keys={a.pub,b.pub}'] });
    const pod = agentPod(objects);
    const agent = pod.containers.find((c) => c.name === 'agent')!;
    expect(value(agent, 'EP_AGENT_REQUIRE_SIGNATURE')).toBe('true');
    const keys = value(agent, 'EP_AGENT_TRUST_PUBLIC_KEYS')!.split(',');
    expect(keys).toHaveLength(2);
    expectSecretFile(pod, agent, keys[0]!, 'edgeplane-model-keys', 'a.pub');
    expectSecretFile(pod, agent, keys[1]!, 'edgeplane-model-keys', 'b.pub');
  });

  it('is a configuration the agent accepts: enrolment with a pinned CA, signatures required', async () => {
    const objects = await render({ set: AGENT_ON });
    const agent = agentPod(objects).containers.find((c) => c.name === 'agent')!;
    const parsed = parseAgentConfig({ env: plainEnv(objects, agent, { 'spec.nodeName': 'gw-1' }) });
    if (parsed.kind !== 'run') throw new Error(`unexpected ${parsed.kind}`);
    expect(parsed.config).toMatchObject({
      node: 'gw-1',
      caHash: CA_HASH,
      bootstrapTokenFile: '/etc/edgeplane-agent/bootstrap/token',
      insecureNats: false,
      trust: { requireSignature: true, publicKeys: ['/etc/edgeplane-agent/model-keys/cosign.pub'] },
    });
    expect(parsed.config.natsCreds).toBeUndefined();
    // Every variable is one the agent documents (its usage lists the trust policy's too).
    const known = new Set(agentUsage().match(/EP_AGENT_[A-Z_]+/g));
    for (const name of vars(agent).keys()) expect(known, `${name} is not an agent setting`).toContain(name);
  });

  it('takes the CA from a ConfigMap instead of a pin when asked', async () => {
    const objects = await render({ set: [...AGENT_ON.slice(0, 2), 'agent.caConfigMap.name=fleet-ca'] });
    const pod = agentPod(objects);
    const agent = pod.containers.find((c) => c.name === 'agent')!;
    expect(vars(agent).has('EP_AGENT_CA_HASH')).toBe(false);
    const { mount, configMap } = mountOf(pod, agent, value(agent, 'EP_AGENT_NATS_CA')!);
    expect(mount.readOnly).toBe(true);
    expect(configMap).toMatchObject({ name: 'fleet-ca', items: [{ key: 'ca.pem', path: 'ca.pem' }] });
  });
});

describe('nats.insecure: true', () => {
  it('renders the insecure flags for both programs, and no trust, token or pin', async () => {
    const objects = await render({ set: [...INSECURE, ...AGENT_ON.slice(0, 2)] });
    const [cp] = controlPlanePod(objects).containers;
    expect(value(cp!, 'EP_INSECURE_NATS')).toBe('true');
    for (const name of ['EP_NATS_CREDS', 'EP_NATS_CA', 'EP_TRUST_FILE', 'EP_BOOTSTRAP_NAMESPACE']) expect(vars(cp!).has(name), name).toBe(false);
    expect(controlPlanePod(objects).volumes?.map((v) => v.name)).toEqual(['tmp']);
    const agent = agentPod(objects).containers.find((c) => c.name === 'agent')!;
    expect(value(agent, 'EP_AGENT_INSECURE_NATS')).toBe('true');
    for (const name of ['EP_AGENT_BOOTSTRAP_TOKEN_FILE', 'EP_AGENT_CA_HASH', 'EP_AGENT_NATS_CA']) expect(vars(agent).has(name), name).toBe(false);
    // Enrolment is off, so the control plane gets no rights on Secrets at all.
    const roles = objects.filter((o) => o.kind === 'Role').map((o) => o.metadata.name);
    expect(roles.some((r) => r.endsWith('-bootstrap-tokens'))).toBe(false);
  });

  it('is accepted by the control plane only because of the flag', async () => {
    const objects = await render({ set: INSECURE });
    const [cp] = controlPlanePod(objects).containers;
    const env = plainEnv(objects, cp!, { 'metadata.name': 'cp-0' });
    const parsed = parseControlPlaneConfig({ env });
    expect(!parsed.help && parsed.config.insecureNats).toBe(true);
    const { EP_INSECURE_NATS: _dropped, ...withoutFlag } = env;
    expect(() => parseControlPlaneConfig({ env: withoutFlag })).toThrow(/EP_NATS_CREDS/);
  });
});

describe('tls.certManager', () => {
  it('renders no Certificate by default', async () => {
    expect((await render()).filter((o) => o.kind === 'Certificate')).toEqual([]);
  });

  it('renders a Certificate for the NATS server names, in the NATS namespace, from the issuer given', async () => {
    const objects = await render({ valuesFiles: [join(ciValuesDir, 'cert-manager-values.yaml')] });
    const cert = findObject(objects, 'Certificate') as K8sObject & {
      spec: { secretName: string; dnsNames: string[]; issuerRef: Record<string, string>; usages: string[]; privateKey: { algorithm: string } };
    };
    expect(cert.apiVersion).toBe('cert-manager.io/v1');
    expect(cert.metadata.namespace).toBe('nats');
    expect(cert.spec.secretName).toBe('nats-server-tls');
    expect(cert.spec.dnsNames).toEqual(['nats.nats.svc.cluster.local', 'nats.nats.svc']);
    expect(cert.spec.issuerRef).toEqual({ name: 'edgeplane-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    expect(cert.spec.usages).toContain('server auth');
    // The host both programs dial is one the certificate names.
    const connections = findObject(objects, 'Secret') as K8sObject & { stringData: Record<string, string> };
    expect(cert.spec.dnsNames).toContain(new URL(connections.stringData['nats-url']!).hostname);
  });
});
