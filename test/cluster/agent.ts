// The chart's agent DaemonSet on the real single-node cluster: the agent image runs as a pod
// with the chart's security context and read-only host mounts of /sys, /dev and /proc, enrols
// with a bootstrap token from a Secret and the CA pin, keeps its credential 0600 in its host
// state directory, says hello with this machine's CPU, and its EdgeNode becomes Ready. Then the
// OCR-line example, its variants pushed into the in-cluster NATS object store, becomes Ready
// and classifies an upright and a rotated text line through NATS from the host; a replaced
// agent pod keeps its identity from the host state directory and serves again. Registered by
// cluster.test.ts on the cluster it shares, after the chart suite (skipped there, with the
// reason, without `make images`).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { EMD_PLURAL, EN_PLURAL, GROUP, VERSION, type EdgeModelDeployment, type EdgeNode } from '@edgeplane/api';
import {
  applyDeployment,
  applyObject,
  credsFor,
  ensureClusterNamespace,
  freePort,
  installRelease,
  kubeConfig,
  kubeRequest,
  listPods,
  podLogTail,
  startBackends,
  writeOciArchive,
  type ClusterBackends,
  type ClusterRelease,
  type KubeCluster,
  type NatsIdentity,
} from '@edgeplane/env';
import { createToken } from '../../cli/src/identity/tokens.ts';
import { classifyNats, connect, inputName, ocrDeployment, publishOcrVariants, textLine } from '../../scripts/up/demo.ts';
import { signingKey } from '../../scripts/up/signing.ts';
import type { SharedCluster } from './shared.ts';

// Namespaces of their own: the chart suite before this one leaves its Lease and Secrets in
// `edgeplane` (it checks that it does), and its backends' namespace may still be terminating.
const RELEASE_NS = 'edgeplane-agent';
const BACKENDS_NS = 'edgeplane-agent-backends';
const EDGE_LABEL = 'node-role.edgeplane.io/edge';
const AGENT_SELECTOR = 'app.kubernetes.io/instance=ep,app.kubernetes.io/component=agent';
// The chart's default init image: hostPath directories are chowned by busybox. The cluster pulls
// nothing, so Debian's static busybox is imported under that name (what an air-gapped site
// mirrors).
const INIT_IMAGE = 'docker.io/library/busybox:1.37';

function busyboxImage(dir: string): string {
  const rootfs = mkdtempSync(join(tmpdir(), 'ep-busybox-'));
  try {
    mkdirSync(join(rootfs, 'bin'));
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'chown', 'ls', 'id']) execFileSync('ln', ['-s', 'busybox', join(rootfs, 'bin', applet)]);
    return writeOciArchive(rootfs, { name: INIT_IMAGE, entrypoint: [], cmd: ['/bin/sh'] }, join(dir, 'busybox.oci.tar'));
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

/** The filesystem type of a mountinfo line: the field after the optional fields' `-`. */
function mountType(fields: readonly string[]): string | undefined {
  return fields[fields.indexOf('-') + 1];
}

/** This machine's CPU as /proc/cpuinfo gives it: the first model name and the logical processors. */
function hostCpu(): { model: string; logical: number } {
  const text = readFileSync('/proc/cpuinfo', 'utf8');
  return { model: /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? '', logical: text.match(/^processor\s*:/gm)?.length ?? 0 };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, explain?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${explain ? `; ${await explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The agent DaemonSet checks, inside a describe block of cluster.test.ts; the product images are imported there. */
export function agentChecks(shared: SharedCluster): void {
  let cluster: KubeCluster;
  let backends: ClusterBackends;
  let release: ClusterRelease;
  let nc: NatsConnection | undefined;
  let hostDir: string;
  let agentHttp: string;
  const timings: string[] = [];
  const mark = (what: string, since: number) => {
    timings.push(`${what} ${Date.now() - since} ms`);
    console.log(`[cluster] ${what} ${Date.now() - since} ms`);
  };

  /** The agent pods' state and log tails, and the control plane's warnings, for a failure message. */
  const explain = async (): Promise<string> => {
    const pods = await listPods(cluster, RELEASE_NS, AGENT_SELECTOR).catch(() => []);
    const agent = pods.map((p) => `${p.name} ${p.phase} ready=${p.ready} restarts=${p.restarts} ${p.state}\n${podLogTail(cluster, RELEASE_NS, p, 30)}`).join('\n');
    const cps = await listPods(cluster, RELEASE_NS, 'app.kubernetes.io/component=control-plane').catch(() => []);
    const cp = cps.map((p) => podLogTail(cluster, RELEASE_NS, p, 200).split('\n').filter((l) => /"level":(4|5)0/.test(l)).slice(-15).join('\n')).join('\n');
    return `agent pods:\n${agent || 'none'}\ncontrol plane warnings:\n${cp}`;
  };

  beforeAll(async () => {
    cluster = shared.cluster;
    hostDir = join(cluster.dir, 'agent-host');
    mkdirSync(hostDir, { recursive: true });
    let t = Date.now();
    const images = shared.images!;
    cluster.importImage(busyboxImage(hostDir));
    mark('busybox imported', t);
    t = Date.now();
    backends = await startBackends(cluster, images, { namespace: BACKENDS_NS });
    mark('NATS and Redis Ready', t);

    // The node is an edge node: the DaemonSet's nodeSelector picks it. Labelled as an operator
    // does, with a patch: a read and a whole-object write would race the kubelet's own updates.
    await cluster.kubectl(['label', '--overwrite', 'node', cluster.nodeName, `${EDGE_LABEL}=true`]);
    const node = (await kubeRequest(cluster, 'GET', `/api/v1/nodes/${cluster.nodeName}`)).body as { metadata: { labels?: Record<string, string> } };
    expect(node.metadata.labels?.[EDGE_LABEL]).toBe('true');

    // What an operator does before enabling the agent (deploy/k3s.md): a join token in a Secret,
    // the model-signing public key in a Secret, and the override file declaring the node's role.
    await ensureClusterNamespace(cluster, RELEASE_NS);
    const core = kubeConfig(cluster).makeApiClient(CoreV1Api);
    const token = await createToken(core, RELEASE_NS, backends.trust, { ttlMs: 3_600_000, maxUses: 1, description: 'test cluster agent' });
    await applyObject(cluster, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'edgeplane-agent-bootstrap', namespace: RELEASE_NS }, type: 'Opaque', stringData: { token: token.joinToken } });
    const { publicKey } = await signingKey();
    await applyObject(cluster, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'edgeplane-model-keys', namespace: RELEASE_NS }, type: 'Opaque', stringData: { 'cosign.pub': readFileSync(publicKey, 'utf8') } });
    const overrideFile = join(hostDir, 'override.yaml');
    writeFileSync(overrideFile, 'labels:\n  edgeplane.io/role: ocr-gateway\n', { mode: 0o644 });

    // Host network: the local endpoint listens on the host's loopback, so on ports free here.
    const httpPort = await freePort();
    const grpcPort = await freePort();
    agentHttp = `http://127.0.0.1:${httpPort}`;
    t = Date.now();
    release = await installRelease(cluster, backends, images, {
      namespace: RELEASE_NS,
      values: {
        controlPlane: { replicas: 1, heartbeatIntervalMs: 1000, podDisruptionBudget: { enabled: false } },
        agent: {
          enabled: true,
          nodeSelector: { [EDGE_LABEL]: 'true' },
          stateHostPath: join(hostDir, 'state'),
          cacheHostPath: join(hostDir, 'cache'),
          overrideHostPath: overrideFile,
          httpAddr: `127.0.0.1:${httpPort}`,
          cacheMax: '1GiB',
          extraEnv: [{ name: 'EP_AGENT_GRPC_ADDR', value: `127.0.0.1:${grpcPort}` }],
        },
      },
    });
    mark('helm install, control plane rolled out', t);
  }, 900_000);

  afterAll(async () => {
    await nc?.close().catch(() => {});
    await release?.uninstall().catch((err: Error) => console.warn(`[cluster] helm uninstall: ${err.message}`));
    if (timings.length) console.log(`[cluster] agent suite timings: ${timings.join(', ')}`);
  }, 240_000);

  const edgeNode = async (): Promise<EdgeNode | undefined> => {
    const res = await kubeRequest(cluster, 'GET', `/apis/${GROUP}/${VERSION}/${EN_PLURAL}/${cluster.nodeName}`);
    return res.status === 200 ? (res.body as EdgeNode) : undefined;
  };

  it('runs the agent pod on the edge node, enrols with the join token and keeps its credential 0600', { timeout: 180_000 }, async () => {
    onTestFailed(async () => console.log(await explain()));
    const created = Date.now();
    const [pod] = await until('agent pod Running', async () => {
      const pods = await listPods(cluster, RELEASE_NS, AGENT_SELECTOR);
      return pods.length === 1 && pods[0]!.phase === 'Running' && pods[0]!.ready ? pods : undefined;
    }, 120_000, explain);
    mark('agent pod Running and Ready', created);
    expect(pod!.restarts).toBe(0);

    // The kubelet and runc applied the chart's security context to the real process.
    const podRes = await kubeRequest(cluster, 'GET', `/api/v1/namespaces/${RELEASE_NS}/pods/${pod!.name}`);
    const status = (podRes.body as { status: { containerStatuses: { name: string; containerID: string }[] } }).status;
    const containerId = status.containerStatuses.find((c) => c.name === 'agent')!.containerID.replace(/^containerd:\/\//, '');
    const taskLine = cluster.ctr(['tasks', 'ls']).split('\n').find((l) => l.startsWith(containerId));
    const pid = Number(taskLine?.trim().split(/\s+/)[1]);
    expect(pid, `task of ${containerId}`).toBeGreaterThan(0);
    const proc = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(proc)?.[1]?.trim();
    expect(field('Uid')?.split(/\s+/)).toEqual(['65532', '65532', '65532', '65532']);
    expect(field('Gid')?.split(/\s+/)[0]).toBe('65532');
    expect(field('CapEff')).toBe('0000000000000000');
    expect(field('CapBnd')).toBe('0000000000000000');
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2'); // a filter: RuntimeDefault
    // Host network: the agent shares the host's network namespace.
    expect(readlinkSync(`/proc/${pid}/ns/net`)).toBe(readlinkSync('/proc/self/ns/net'));
    // /host/sys, /host/proc and /host/dev are the host's, read-only; the root filesystem too.
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n').map((l) => l.split(' '));
    const mount = (point: string) => mounts.find((m) => m[4] === point);
    for (const point of ['/host/sys', '/host/proc', '/host/dev', '/']) {
      const m = mount(point);
      expect(m, `${point} mounted`).toBeDefined();
      expect(m![5]!.split(','), `${point} options ${m![5]}`).toContain('ro');
    }
    expect(mountType(mount('/host/proc')!)).toBe('proc');
    expect(mountType(mount('/host/sys')!)).toBe('sysfs');
    expect(mount('/var/lib/edgeplane-agent')![5]!.split(',')).toContain('rw');
    // Enrolled: the credential and the pinned CA in the host state directory, the agent's alone.
    const creds = join(hostDir, 'state', 'nats.creds');
    await until('nats.creds written', async () => (existsSync(creds) ? true : undefined), 60_000, explain);
    const st = statSync(creds);
    expect((st.mode & 0o777).toString(8)).toBe('600');
    expect(st.uid).toBe(65532);
    expect(statSync(join(hostDir, 'state')).uid).toBe(65532); // the init container's chown
  });

  it('says hello with this machine\'s CPU, read through the host /proc mount, and its EdgeNode is Ready', { timeout: 120_000 }, async () => {
    onTestFailed(async () => console.log(await explain()));
    const t = Date.now();
    const node = await until('EdgeNode Ready', async () => {
      const n = await edgeNode();
      return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
    }, 90_000, async () => `EdgeNode: ${JSON.stringify(await edgeNode())}\n${await explain()}`);
    mark('EdgeNode Ready', t);
    // From the DaemonSet pod's creation to the Ready condition (both second resolution).
    const [pod] = await listPods(cluster, RELEASE_NS, AGENT_SELECTOR);
    const readySince = node.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    if (pod && readySince) timings.push(`agent pod created to EdgeNode Ready ${Date.parse(readySince) - Date.parse(pod.created)} ms`);
    const cpu = hostCpu();
    expect(node.status?.host?.arch).toBe('x86_64');
    expect(node.status?.host?.cpuModel).toBe(cpu.model);
    expect(node.status?.host?.cores).toBe(cpu.logical);
    expect(node.status?.accelerators?.find((a) => a.type === 'CPU')?.model).toBe(cpu.model);
    // The override file on the host, mounted read-only, gave the node its role.
    expect(node.metadata.labels?.['edgeplane.io/role']).toBe('ocr-gateway');
  });

  it('serves the OCR-line example from the in-cluster object store and classifies through NATS from the host', { timeout: 240_000 }, async () => {
    onTestFailed(async () => console.log(await explain()));
    let t = Date.now();
    // Writing the store is an administrator's right: the admin credential, through the Service's ClusterIP.
    // As make up publishes them (quantized once into the cache, pushed, signed with the demo key).
    const caFile = join(hostDir, 'ca.pem');
    writeFileSync(caFile, backends.caPem);
    const store = {
      url: `tls://${backends.natsClusterIP}:4222`,
      caFile,
      async credsFile(who: NatsIdentity) {
        const file = join(hostDir, `${typeof who === 'string' ? who : 'other'}.creds`);
        writeFileSync(file, await credsFor(backends.trust, who), { mode: 0o600 });
        return file;
      },
    };
    const signed = await publishOcrVariants(store, (line) => console.log(`[cluster] ${line}`));
    mark(`${signed.length} variants pushed and signed`, t);

    // One node here: one replica of the example's three.
    const doc: EdgeModelDeployment = ocrDeployment(signed);
    doc.spec.replicas = 1;
    t = Date.now();
    await applyDeployment(kubeConfig(cluster), doc);
    const { namespace, name } = { namespace: doc.metadata.namespace!, name: doc.metadata.name! };
    const emd = async () => (await kubeRequest(cluster, 'GET', `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${EMD_PLURAL}/${name}`)).body as EdgeModelDeployment;
    await until('ocr-line Ready', async () => ((await emd()).status?.readyReplicas === 1 ? true : undefined), 150_000, async () => `status: ${JSON.stringify((await emd()).status)}\n${await explain()}`);
    mark('ocr-line Ready', t);

    // A client on the host, with the inference client's credential, through the NATS Service.
    nc = await connect(await backends.natsOptions('client'));
    const input = await inputName(agentHttp, name); // the agent's local endpoint, on the host's loopback
    for (const rotated of [false, true]) {
      const answer = await classifyNats(nc, namespace, name, input, textLine('edgeplane keeps models at the edge', rotated));
      expect(answer.rotated, `rotated=${rotated}, scores ${answer.scores.join(',')}`).toBe(rotated);
      expect(answer.node).toBe(cluster.nodeName);
    }
  });

  it('a replaced agent pod keeps its identity from the host state dir, without the join token, and serves again', { timeout: 180_000 }, async () => {
    onTestFailed(async () => console.log(await explain()));
    // Every node has enrolled: the operator may delete the join token's Secret (it is mounted optionally).
    expect((await kubeRequest(cluster, 'DELETE', `/api/v1/namespaces/${RELEASE_NS}/secrets/edgeplane-agent-bootstrap`)).status).toBe(200);
    const [old] = await listPods(cluster, RELEASE_NS, AGENT_SELECTOR);
    const deleted = Date.now();
    expect((await kubeRequest(cluster, 'DELETE', `/api/v1/namespaces/${RELEASE_NS}/pods/${old!.name}`)).status).toBe(200);
    const pod = await until('a new agent pod Running', async () => {
      const pods = await listPods(cluster, RELEASE_NS, AGENT_SELECTOR);
      return pods.find((p) => p.uid !== old!.uid && p.phase === 'Running' && !p.deleting);
    }, 120_000, explain);
    mark('agent pod replaced', deleted);
    const log = await until('new agent says hello', async () => {
      const text = podLogTail(cluster, RELEASE_NS, pod, 400);
      return text.includes('hello accepted') ? text : undefined;
    }, 60_000, explain);
    expect(log).toContain('credential found; enrolment skipped');
    expect(log).not.toContain('enrolling with the bootstrap token');
    // It serves the deployment again: its last assignment and the cached variant are on the host.
    const answer = await until('classified after the restart', async () => classifyNats(nc!, 'warehouse', 'ocr-line', await inputName(agentHttp, 'ocr-line'), textLine('after a restart', true, 5)), 60_000, explain);
    mark('deleted agent pod to serving again', deleted);
    expect(answer.rotated).toBe(true);
    expect(answer.node).toBe(cluster.nodeName);
  });
}
