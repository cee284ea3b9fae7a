// A real single-node Kubernetes on this machine, as Kubernetes' hack/local-up-cluster.sh
// starts one: etcd and kube-apiserver (kube.ts), kube-controller-manager, kube-scheduler,
// containerd (CRI) with runc, the CNI bridge, kube-proxy and a kubelet, every one with its state
// under one temp root. Needs root, cgroups, overlayfs and iptables (docs/cluster.md).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { binDir, goBinary } from './binaries.ts';
import { clusterDns, CLUSTER_DNS_IP, CLUSTER_DOMAIN, deployClusterDns, resolveInCluster, type ClusterDns } from './cluster-dns.ts';
import { ensureCoreDnsImage, ensurePauseImage, PAUSE_IMAGE } from './cluster-images.ts';
import { KUBELET_CLIENT_USER, writeKubeletPki, type KubeletPki } from './cluster-pki.ts';
import { startKube, type KubeAccess, type KubeServer } from './kube.ts';
import { kubeRequest } from './kube-http.ts';
import { freePort } from './ports.ts';
import { startProcess, type ServerProcess } from './process.ts';

export type ClusterBinary =
  | 'kubelet'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kube-proxy'
  | 'containerd'
  | 'containerd-shim-runc-v2'
  | 'ctr'
  | 'runc'
  | 'cni-bridge'
  | 'cni-host-local'
  | 'cni-loopback'
  | 'cni-portmap'
  | 'coredns';
const BINARIES: ClusterBinary[] = [
  'kubelet',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
  'runc',
  'cni-bridge',
  'cni-host-local',
  'cni-loopback',
  'cni-portmap',
  'coredns',
];

/** The pod network: one bridge, one subnet; the Service range is kube.ts's 10.0.0.0/24. */
export const POD_SUBNET = '10.244.0.0/24';
const BRIDGE = 'edgeplane0';
const CNI_NETWORK = 'edgeplane-test';
const LOCK = '/run/edgeplane-cluster.lock';
const buildScript = join(dirname(fileURLToPath(import.meta.url)), '..', 'build-servers.sh');

export type ClusterErrorCode = 'unsupported' | 'busy' | 'start-failed' | 'command-failed';
export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string) {
    super(message);
    this.name = 'ClusterError';
    this.code = code;
  }
}

export interface ClusterOptions {
  log?: (line: string) => void;
  /** How long to wait for the node to be Ready (default 180 s; a loaded 2-core machine is slow). */
  readyTimeoutMs?: number;
  /**
   * Cluster DNS (default true): CoreDNS in kube-system behind the kube-dns Service, the kubelet
   * giving it to pods as their nameserver; startCluster() returns once it answers. With false,
   * pods use the host's resolver and Service names do not resolve.
   */
  dns?: boolean;
}

export interface KubeCluster extends KubeAccess {
  /** Temp root holding every component's state and logs. */
  dir: string;
  nodeName: string;
  /** The host address the API server advertises and the node reports. */
  hostAddress: string;
  kube: KubeServer;
  /** Imports an OCI archive into CRI's image store (containerd namespace k8s.io), unpacked. */
  importImage(archive: string): void;
  /** Runs ctr against this cluster's containerd. */
  ctr(args: string[]): string;
  /** Log files by component. */
  logs: Record<string, string>;
  /** The cluster DNS (null when started with `dns: false`). */
  dns: ClusterDns | null;
  /**
   * Runs kubectl against this cluster (admin credentials); resolves with its stdout, rejects
   * with ClusterError `command-failed` (exit status and stderr in the message) otherwise.
   */
  kubectl(args: string[], options?: { stdin?: string; timeoutMs?: number }): Promise<string>;
  /** `kubectl exec` (API server to kubelet to containerd): the command's stdout; a non-zero exit rejects. */
  exec(namespace: string, pod: string, command: string[], options?: { container?: string; stdin?: string; timeoutMs?: number }): Promise<string>;
  /** `kubectl logs`: the container's log as the kubelet serves it. */
  podLogs(namespace: string, pod: string, options?: { container?: string; previous?: boolean; tailLines?: number }): Promise<string>;
  stop(): Promise<void>;
}

/** Why no cluster can start on this machine, or null when nothing is known to stop it. */
export function clusterUnsupportedReason(): string | null {
  if (process.env.EDGEPLANE_CLUSTER === '0') return 'EDGEPLANE_CLUSTER=0 is set';
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs linux/amd64, this is ${process.platform}/${process.arch}`;
  if (process.getuid?.() !== 0) return 'needs root: kubelet, containerd, runc and the CNI plugins set up namespaces, cgroups, mounts and iptables rules';
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'the kernel has no overlay filesystem (containerd\'s overlayfs snapshotter)';
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const missing = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids'].filter((c) => !existsSync(join('/sys/fs/cgroup', c, 'tasks')));
  if (!v2 && missing.length) return `cgroup v1 controllers not mounted: ${missing.join(', ')}`;
  if (!onPath('iptables')) return 'iptables is not installed (the CNI bridge masquerade and kube-proxy need it): apt-get install iptables';
  if (!hostAddress()) return 'no non-loopback IPv4 address: pods reach the API server through the host address';
  const holder = lockHolder();
  if (holder) return `another test cluster runs on this machine (pid ${holder} holds ${LOCK})`;
  return null;
}

/** The live process holding the one-cluster-per-machine lock, if any. */
function lockHolder(): number | null {
  if (!existsSync(LOCK)) return null;
  const pid = Number(readFileSync(LOCK, 'utf8').split('\n')[0]);
  return pid && pid !== process.pid && pidAlive(pid) ? pid : null;
}

function onPath(command: string): string | null {
  for (const dir of `${process.env.PATH ?? ''}:/usr/sbin:/sbin`.split(':')) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return null;
}

function hostAddress(): string | null {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

/** Path of a cluster binary, building the missing ones first (a cold build takes minutes). */
export function clusterBinary(name: ClusterBinary): string {
  const path = join(binDir, name);
  if (!existsSync(path)) {
    const missing = BINARIES.filter((b) => !existsSync(join(binDir, b)));
    execFileSync('bash', [buildScript], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, only: missing.join(',') } });
  }
  return path;
}

/**
 * Takes the one-cluster-per-machine lock. The lock names its cluster's root and cgroup root, so
 * a run that died without stop() (its shims and containers outlive it) is cleaned up here.
 */
function takeLock(dir: string, cgroupRoot: string, kubeProxy: string, log: (line: string) => void): void {
  mkdirSync(dirname(LOCK), { recursive: true });
  const pid = lockHolder();
  if (pid) throw new ClusterError('busy', `another test cluster runs on this machine (pid ${pid} holds ${LOCK}): kube-proxy's iptables chains and the ${BRIDGE} bridge are per machine`);
  if (existsSync(LOCK)) {
    const [, oldDir, oldCgroupRoot] = readFileSync(LOCK, 'utf8').split('\n');
    if (oldDir?.startsWith('/tmp/ep-cluster-') && oldCgroupRoot?.startsWith('/edgeplane-')) {
      log(`cleaning up after a cluster that was not stopped (${oldDir})`);
      killLeftovers(oldDir, oldCgroupRoot);
      cleanupHost(oldDir, oldCgroupRoot, kubeProxy, log);
    }
  }
  writeFileSync(LOCK, `${process.pid}\n${dir}\n${cgroupRoot}\n`);
}

/** SIGKILLs what a dead run left: its containers (by cgroup) and its shims and servers (by root). */
function killLeftovers(dir: string, cgroupRoot: string): void {
  const pids = new Set<number>();
  const collect = (path: string) => {
    if (!existsSync(path)) return;
    for (const line of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
    for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) collect(join(path, entry.name));
  };
  for (const h of cgroupHierarchies(true)) collect(join(h, cgroupRoot));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Servers name the root in their arguments; a shim only in its working directory (the bundle).
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/`) || readlinkSync(`/proc/${entry}/cwd`).startsWith(`${dir}/`)) pids.add(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  pids.delete(process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  execFileSync('sleep', ['1']);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The v1 hierarchies (or the v2 root) a cgroup of the cluster's own is made in; with `unified`,
 * also a hybrid host's cgroup2 mount, where runc makes the containers' cgroups too.
 */
function cgroupHierarchies(unified = false): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => {
      const type = f[f.indexOf('-') + 1];
      return type === 'cgroup' || (unified && type === 'cgroup2');
    })
    .map((f) => f[4]!)
    .filter((p): p is string => !!p);
}

function removeCgroupTree(path: string): void {
  if (!existsSync(path)) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(join(path, entry.name));
  }
  try {
    rmdirSync(path);
  } catch {
    // a process still in it: reported by stop()'s leftovers check
  }
}

function sh(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

function trySh(command: string, args: string[]): string {
  try {
    return sh(command, args);
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? String(err);
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, alive: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const dead = alive();
    if (dead) throw new ClusterError('start-failed', `${what}: ${dead}`);
    if (Date.now() > deadline) throw new ClusterError('start-failed', `${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<KubeCluster> {
  const log = options.log ?? (() => {});
  const reason = clusterUnsupportedReason();
  if (reason) throw new ClusterError(lockHolder() ? 'busy' : 'unsupported', reason);
  const address = hostAddress()!;
  const bins = Object.fromEntries(BINARIES.map((b) => [b, clusterBinary(b)])) as Record<ClusterBinary, string>;
  const pauseArchive = ensurePauseImage();
  const withDns = options.dns ?? true;
  const coreDns = withDns ? ensureCoreDnsImage(bins.coredns, readlinkSync(bins.coredns).replace(/^coredns-/, '')) : null;

  // Short path: containerd's sockets live under it and a unix socket path has 108 bytes.
  const dir = mkdtempSync('/tmp/ep-cluster-');
  const id = dir.slice(dir.lastIndexOf('-') + 1);
  const nodeName = `ep-node-${id.toLowerCase()}`;
  const cgroupRoot = `/edgeplane-${id}`;
  let pki: KubeletPki | undefined;
  try {
    takeLock(dir, cgroupRoot, bins['kube-proxy'], log);
  } catch (err) {
    rmdirSync(dir);
    throw err;
  }
  const logDir = join(dir, 'logs');
  for (const d of ['logs', 'containerd', 'cni/bin', 'cni/net.d', 'cni/ipam', 'kubelet', 'pod-logs']) mkdirSync(join(dir, d), { recursive: true });
  const procs: ServerProcess[] = [];
  const logs: Record<string, string> = {};
  const start = (name: string, command: string, args: string[], env?: NodeJS.ProcessEnv) => {
    const p = startProcess(name, command, args, dir, env, logDir);
    procs.push(p);
    logs[name] = p.logFile;
    return p;
  };
  const dead = (p: ServerProcess) => () => (p.alive() ? null : `${p.name} exited\n${p.tail(30)}`);
  const containerdSocket = join(dir, 'containerd', 'containerd.sock');
  const ctr = (args: string[]) => sh(bins.ctr, ['--address', containerdSocket, '--namespace', 'k8s.io', ...args]);
  let kube: KubeServer | undefined;

  const stop = async () => {
    log('stopping the cluster');
    // Controllers first, so deleted pods are not replaced; then the kubelet tears every pod down
    // (containers killed, the CNI network removed) and confirms, which removes the pod objects.
    for (const name of ['kube-controller-manager', 'kube-scheduler']) await procs.find((p) => p.name === name)?.stop(10_000);
    const kubelet = procs.find((p) => p.name === 'kubelet');
    if (kube && kubelet?.alive()) await deleteAllPods(kube, 60_000).catch((err: Error) => log(`pods not all gone: ${err.message}`));
    await kubelet?.stop(15_000);
    // Whatever still runs (a pod the kubelet did not finish) is killed through containerd.
    if (procs.find((p) => p.name === 'containerd')?.alive()) {
      for (const task of trySh(bins.ctr, ['--address', containerdSocket, '--namespace', 'k8s.io', 'tasks', 'ls', '-q']).split('\n').filter(Boolean)) {
        trySh(bins.ctr, ['--address', containerdSocket, '--namespace', 'k8s.io', 'tasks', 'kill', '-a', '-s', 'SIGKILL', task]);
      }
      await new Promise((r) => setTimeout(r, 500));
      for (const task of trySh(bins.ctr, ['--address', containerdSocket, '--namespace', 'k8s.io', 'tasks', 'ls', '-q']).split('\n').filter(Boolean)) {
        trySh(bins.ctr, ['--address', containerdSocket, '--namespace', 'k8s.io', 'tasks', 'delete', '-f', task]);
      }
    }
    for (const p of [...procs].reverse()) await p.stop(10_000);
    await kube?.stop();
    cleanupHost(dir, cgroupRoot, bins['kube-proxy'], log);
    try {
      if (readFileSync(LOCK, 'utf8').split('\n')[0] === String(process.pid)) unlinkSync(LOCK);
    } catch {
      // lock already gone
    }
  };

  try {
    // Pods reach the API server through the kubernetes Service, so it advertises the host address.
    // The kubelet API (logs, exec) between the API server and the kubelet: mutual TLS on one CA.
    pki = writeKubeletPki(join(dir, 'pki'), address, nodeName);
    kube = await startKube({
      dir: join(dir, 'kube'),
      log,
      advertiseAddress: address,
      kubeletClient: { certFile: pki.clientCertFile, keyFile: pki.clientKeyFile, certificateAuthority: pki.caFile },
    });
    const kubeconfig = kube.kubeconfigPath;
    // The kubelet asks the API server (SubjectAccessReview) whether its client may use the kubelet API.
    const binding = await kubeRequest(kube, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'edgeplane-test:kubelet-api-admin' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kubelet-api-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBELET_CLIENT_USER }],
    });
    if (binding.status !== 201) throw new ClusterError('start-failed', `binding ${KUBELET_CLIENT_USER} to system:kubelet-api-admin: HTTP ${binding.status}`);

    // Host settings the pod network needs (per machine, not per cluster; docs/cluster.md).
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    if (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) writeFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');

    start('kube-controller-manager', bins['kube-controller-manager'], [
      `--kubeconfig=${kubeconfig}`,
      `--service-account-private-key-file=${join(kube.dir, 'sa.key')}`,
      `--root-ca-file=${join(kube.dir, 'certs', 'apiserver.crt')}`,
      '--use-service-account-credentials=true',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
    ]);
    start('kube-scheduler', bins['kube-scheduler'], [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${await freePort()}`]);
    // Its Deployment and Service wait for the node; the image is imported before the kubelet starts.
    if (coreDns) await deployClusterDns(kube, coreDns.reference);

    // containerd: CRI with runc, a base spec without rlimits (runc's setrlimit is refused on
    // machines of this kind), CNI from this root, network namespaces under its state dir.
    const baseSpec = JSON.parse(sh(bins.ctr, ['oci', 'spec'])) as { process: Record<string, unknown> };
    delete baseSpec.process['rlimits'];
    const baseSpecPath = join(dir, 'containerd', 'base-spec.json');
    writeFileSync(baseSpecPath, JSON.stringify(baseSpec, null, 2));
    const containerdConfig = join(dir, 'containerd', 'config.toml');
    writeFileSync(containerdConfig, containerdToml(dir, containerdSocket, baseSpecPath, bins.runc));
    for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) symlinkSync(bins[`cni-${plugin}` as ClusterBinary], join(dir, 'cni', 'bin', plugin));
    writeFileSync(join(dir, 'cni', 'net.d', '10-edgeplane.conflist'), JSON.stringify(cniConfig(dir), null, 2));
    // The shim is found on PATH; iptables (CNI masquerade) in /usr/sbin.
    const containerd = start('containerd', bins.containerd, ['--config', containerdConfig], { PATH: `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin` });
    await waitFor('containerd socket', 30_000, () => existsSync(containerdSocket), dead(containerd));
    await waitFor('containerd answers', 30_000, () => trySh(bins.ctr, ['--address', containerdSocket, 'version']).includes('Server:'), dead(containerd));
    log('containerd ready');
    ctr(['images', 'import', '--platform', 'linux/amd64', '--label', 'io.cri-containerd.pinned=pinned', pauseArchive]);
    if (coreDns) ctr(['images', 'import', '--platform', 'linux/amd64', coreDns.archive]);

    const kubeProxyConfig = join(dir, 'kube-proxy.yaml');
    writeFileSync(
      kubeProxyConfig,
      stringify({
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig },
        hostnameOverride: nodeName,
        mode: 'iptables',
        clusterCIDR: POD_SUBNET,
        bindAddress: '127.0.0.1',
        healthzBindAddress: `127.0.0.1:${await freePort()}`,
        metricsBindAddress: `127.0.0.1:${await freePort()}`,
        // Leave the machine's conntrack table size alone.
        conntrack: { maxPerCore: 0 },
      }),
    );
    start('kube-proxy', bins['kube-proxy'], [`--config=${kubeProxyConfig}`], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });

    // The kubelet's cgroups under a root of their own, so stop() removes exactly those.
    for (const h of cgroupHierarchies()) {
      mkdirSync(join(h, cgroupRoot), { recursive: true });
      if (existsSync(join(h, 'cpuset.cpus'))) {
        writeFileSync(join(h, cgroupRoot, 'cpuset.cpus'), readFileSync(join(h, 'cpuset.cpus')));
        writeFileSync(join(h, cgroupRoot, 'cpuset.mems'), readFileSync(join(h, 'cpuset.mems')));
      }
    }
    const kubeletConfig = join(dir, 'kubelet.yaml');
    writeFileSync(kubeletConfig, stringify(kubeletConfiguration(dir, containerdSocket, cgroupRoot, await freePort(), await freePort(), withDns, address, pki)));
    const kubelet = start(
      'kubelet',
      bins.kubelet,
      [`--config=${kubeletConfig}`, `--kubeconfig=${kubeconfig}`, `--root-dir=${join(dir, 'kubelet')}`, `--hostname-override=${nodeName}`, `--node-ip=${address}`, '--v=1'],
      { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    );
    const readyTimeout = options.readyTimeoutMs ?? 180_000;
    await waitFor(`node ${nodeName} Ready`, readyTimeout, () => nodeReady(kube!, nodeName), () => {
      for (const p of procs) if (!p.alive()) return `${p.name} exited\n${p.tail(30)}`;
      return null;
    }).catch((err: Error) => {
      throw new ClusterError('start-failed', `${err.message}\nkubelet:\n${kubelet.tail(30)}\ncontainerd:\n${containerd.tail(15)}`);
    });
    // Pods need their namespace's default ServiceAccount, which the controller-manager makes.
    await waitFor('default ServiceAccount', 60_000, async () => (await kubeRequest(kube!, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200, () => null);
    log(`node ${nodeName} Ready (${address})`);
    if (coreDns) {
      const apiName = `kubernetes.default.svc.${CLUSTER_DOMAIN}`;
      await waitFor(`cluster DNS (${CLUSTER_DNS_IP}) answers ${apiName}`, 120_000, async () => (await resolveInCluster(apiName)).includes('10.0.0.1'), () => null).catch(async (err: Error) => {
        const pods = await kubeRequest(kube!, 'GET', '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns').catch(() => null);
        throw new ClusterError('start-failed', `${err.message}\ncoredns pods: ${JSON.stringify((pods?.body as { items?: { status?: unknown }[] } | undefined)?.items?.map((p) => p.status))}`);
      });
      log(`cluster DNS answers at ${CLUSTER_DNS_IP}`);
    }

    return {
      server: kube.server,
      token: kube.token,
      kubeconfig: kube.kubeconfig,
      kubeconfigPath: kube.kubeconfigPath,
      dir,
      nodeName,
      hostAddress: address,
      kube,
      importImage: (archive) => void ctr(['images', 'import', '--platform', 'linux/amd64', archive]),
      ctr,
      logs,
      dns: coreDns ? clusterDns(coreDns.reference) : null,
      kubectl: (args, opts) => kubectl(kube!.kubeconfigPath, args, opts),
      exec: (namespace, pod, command, opts) =>
        kubectl(kube!.kubeconfigPath, ['exec', ...(opts?.stdin !== undefined ? ['-i'] : []), '-n', namespace, pod, ...(opts?.container ? ['-c', opts.container] : []), '--', ...command], opts),
      podLogs: (namespace, pod, opts) =>
        kubectl(kube!.kubeconfigPath, [
          'logs',
          '-n',
          namespace,
          pod,
          ...(opts?.container ? ['-c', opts.container] : []),
          ...(opts?.previous ? ['--previous'] : []),
          ...(opts?.tailLines !== undefined ? [`--tail=${opts.tailLines}`] : []),
        ]),
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    if (err instanceof ClusterError) throw err;
    throw new ClusterError('start-failed', (err as Error).message);
  }
}

function kubectl(kubeconfig: string, args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(goBinary('kubectl'), [`--kubeconfig=${kubeconfig}`, ...args], { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new ClusterError('command-failed', `kubectl ${args.join(' ')}: ${err.code ?? err.signal ?? err.message}\n${stderr.trim()}`));
      else resolve(stdout);
    });
    child.stdin?.end(options.stdin ?? '');
  });
}

async function nodeReady(kube: KubeAccess, nodeName: string): Promise<boolean> {
  const res = await kubeRequest(kube, 'GET', `/api/v1/nodes/${nodeName}`).catch(() => null);
  if (res?.status !== 200) return false;
  const conditions = (res.body as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

async function deleteAllPods(kube: KubeAccess, timeoutMs: number): Promise<void> {
  await kubeRequest(kube, 'DELETE', '/api/v1/pods?gracePeriodSeconds=1').catch(() => null);
  const list = async () => (((await kubeRequest(kube, 'GET', '/api/v1/pods')).body as { items?: unknown[] }).items ?? []).length;
  // DELETE on the collection is per namespace; so each namespace's pods are deleted too.
  const namespaces = ((await kubeRequest(kube, 'GET', '/api/v1/namespaces')).body as { items?: { metadata: { name: string } }[] }).items ?? [];
  for (const ns of namespaces) await kubeRequest(kube, 'DELETE', `/api/v1/namespaces/${ns.metadata.name}/pods?gracePeriodSeconds=1`).catch(() => null);
  const deadline = Date.now() + timeoutMs;
  while ((await list()) > 0) {
    if (Date.now() > deadline) throw new Error(`pods left after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Unmounts, network and cgroup state the cluster left on the host, then its directory. */
function cleanupHost(dir: string, cgroupRoot: string, kubeProxy: string, log: (line: string) => void): void {
  const mounts = () =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m === dir || m.startsWith(`${dir}/`));
  for (const m of mounts().reverse()) trySh('umount', ['-l', m]);
  trySh('ip', ['link', 'del', BRIDGE]);
  // kube-proxy's chains; the CNI masquerade chains of pods whose teardown never ran.
  trySh(kubeProxy, ['--cleanup']);
  for (const line of trySh('iptables', ['-t', 'nat', '-S', 'POSTROUTING']).split('\n')) {
    const chain = / -j (CNI-[0-9a-f]+)/.exec(line)?.[1];
    if (!chain || !line.includes(CNI_NETWORK)) continue;
    // -S prints each rule shell-quoted, as -D takes it back.
    trySh('sh', ['-c', `iptables -t nat ${line.replace(/^-A /, '-D ')}`]);
    trySh('iptables', ['-t', 'nat', '-F', chain]);
    trySh('iptables', ['-t', 'nat', '-X', chain]);
  }
  // The kubelet's own chains (KUBE-FIREWALL, canaries), which kube-proxy --cleanup leaves.
  for (const iptables of ['iptables', 'ip6tables']) removeKubeChains(iptables);
  for (const h of cgroupHierarchies(true)) removeCgroupTree(join(h, cgroupRoot));
  const left = mounts();
  if (left.length) {
    log(`mounts left under ${dir}, not removing it: ${left.join(', ')}`);
    return;
  }
  trySh('rm', ['-rf', '--one-file-system', dir]);
}

function removeKubeChains(iptables: string): void {
  for (const table of ['filter', 'nat', 'mangle']) {
    const rules = trySh(iptables, ['-t', table, '-S']).split('\n');
    for (const line of rules) {
      if (/^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j KUBE-/.test(line)) trySh('sh', ['-c', `${iptables} -t ${table} ${line.replace(/^-A /, '-D ')}`]);
    }
    const chains = rules.map((l) => /^-N (KUBE-\S+)/.exec(l)?.[1]).filter((c): c is string => !!c);
    for (const chain of chains) trySh(iptables, ['-t', table, '-F', chain]);
    for (const chain of chains) trySh(iptables, ['-t', table, '-X', chain]);
  }
}

function containerdToml(dir: string, socket: string, baseSpec: string, runc: string): string {
  const q = JSON.stringify;
  return `version = 3
root = ${q(join(dir, 'containerd', 'root'))}
state = ${q(join(dir, 'containerd', 'state'))}
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(socket)}

[ttrpc]
  address = ${q(`${socket}.ttrpc`)}

[plugins.'io.containerd.internal.v1.opt']
  path = ${q(join(dir, 'containerd', 'opt'))}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${q(PAUSE_IMAGE)}

[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  # Writing an oom_score_adj below the current one needs CAP_SYS_RESOURCE, which machines of this
  # kind do not give even to root (runc init: "failed to update /proc/self/oom_score_adj").
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      base_runtime_spec = ${q(baseSpec)}
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = ${q(runc)}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${q(join(dir, 'cni', 'bin'))}]
    conf_dir = ${q(join(dir, 'cni', 'net.d'))}

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

function cniConfig(dir: string): unknown {
  return {
    cniVersion: '1.0.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_SUBNET }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(dir, 'cni', 'ipam') },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

function kubeletConfiguration(dir: string, socket: string, cgroupRoot: string, port: number, healthzPort: number, dns: boolean, address: string, pki: KubeletPki): unknown {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    containerRuntimeEndpoint: `unix://${socket}`,
    // cgroup v1 here: recent kubelets refuse it unless told otherwise; no systemd runs.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot,
    failSwapOn: false,
    // The API server calls the kubelet API (logs, exec) at the node's InternalIP, with a client
    // certificate of the cluster's CA; what that user may do is RBAC's answer (Webhook).
    address,
    port,
    readOnlyPort: 0,
    tlsCertFile: pki.servingCertFile,
    tlsPrivateKeyFile: pki.servingKeyFile,
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: pki.caFile } },
    authorization: { mode: 'Webhook' },
    podLogsDir: join(dir, 'pod-logs'),
    resolvConf: '/etc/resolv.conf',
    // Pods get the kube-dns Service as nameserver and <ns>.svc.cluster.local in their search path.
    ...(dns ? { clusterDNS: [CLUSTER_DNS_IP], clusterDomain: CLUSTER_DOMAIN } : {}),
    // A shared disk that other work fills must not evict the test's pods or its images.
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    protectKernelDefaults: false,
    // The node reports Ready as soon as the runtime and CNI are; status every few seconds.
    nodeStatusUpdateFrequency: '4s',
    fileCheckFrequency: '5s',
    syncFrequency: '10s',
  };
}
