// etcd + kube-apiserver on loopback: a real API server for tests, benchmarks and `make up`.
// Token auth with one admin token (group system:masters), RBAC on, no controllers or kubelet.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { goBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess, type ServerProcess } from './process.ts';

/** What a test needs to reach the API server; plain data so vitest can provide it. */
export interface KubeAccess {
  server: string;
  token: string;
  kubeconfigPath: string;
  kubeconfig: string;
}

export interface KubeServer extends KubeAccess {
  dir: string;
  /** The kube-apiserver process, for fault tests that signal it. */
  apiServer(): ServerProcess;
  /** Starts kube-apiserver again (same port, certificates and etcd) after it was stopped; resolves once /readyz is 200. */
  restartApiServer(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface KubeOptions {
  /** Working directory (etcd data, certificates, logs); a temp dir by default. */
  dir?: string;
  log?: (line: string) => void;
  /**
   * For a cluster with a kubelet and controllers (cluster.ts): the API server listens on every
   * address and advertises this one (pods reach it through the kubernetes Service, so it must
   * not be loopback), ServiceAccount admission is on and the Service's endpoints are kept.
   */
  advertiseAddress?: string;
  /**
   * For a cluster with a kubelet (cluster.ts): how the API server calls the kubelet API (pod
   * logs, exec, port-forward). It presents this client certificate, verifies the kubelet's
   * serving certificate against `certificateAuthority`, and dials the node's InternalIP (a
   * test node's name is not in any resolver).
   */
  kubeletClient?: { certFile: string; keyFile: string; certificateAuthority: string };
}

export async function startKube(options: KubeOptions = {}): Promise<KubeServer> {
  const log = options.log ?? (() => {});
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'ep-kube-'));
  mkdirSync(dir, { recursive: true });
  const etcdBin = goBinary('etcd');
  const apiBin = goBinary('kube-apiserver');
  const procs: ServerProcess[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop(10_000);
  };

  try {
    const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcd = startProcess(
      'etcd',
      etcdBin,
      [
        '--name=ep',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=ep=http://127.0.0.1:${peerPort}`,
        // Test data: durability across power loss buys nothing and costs every write an fsync.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      dir,
    );
    procs.push(etcd);
    await waitForPort(clientPort, 20_000, () => etcd.alive()).catch((err: Error) => {
      throw new Error(`etcd did not start: ${err.message}\n${etcd.tail()}`);
    });
    log(`etcd listening on 127.0.0.1:${clientPort}`);

    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,system:masters\n`, { mode: 0o600 });
    const certDir = join(dir, 'certs');

    const apiArgs = [
      `--etcd-servers=http://127.0.0.1:${clientPort}`,
      `--bind-address=${options.advertiseAddress ? '0.0.0.0' : '127.0.0.1'}`,
      `--advertise-address=${options.advertiseAddress ?? '127.0.0.1'}`,
      `--secure-port=${securePort}`,
      `--cert-dir=${certDir}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      // No controller-manager runs, so nothing would mint service-account tokens for pods.
      ...(options.advertiseAddress ? [] : ['--disable-admission-plugins=ServiceAccount']),
      '--allow-privileged=true',
      `--endpoint-reconciler-type=${options.advertiseAddress ? 'lease' : 'none'}`,
      '--profiling=false',
      ...(options.kubeletClient
        ? [
            `--kubelet-client-certificate=${options.kubeletClient.certFile}`,
            `--kubelet-client-key=${options.kubeletClient.keyFile}`,
            `--kubelet-certificate-authority=${options.kubeletClient.certificateAuthority}`,
            '--kubelet-preferred-address-types=InternalIP,Hostname',
          ]
        : []),
    ];
    let api = startProcess('kube-apiserver', apiBin, apiArgs, dir);
    procs.push(api);
    const server = `https://${options.advertiseAddress ?? '127.0.0.1'}:${securePort}`;
    await waitForPort(securePort, 60_000, () => api.alive()).catch((err: Error) => {
      throw new Error(`kube-apiserver did not start: ${err.message}\n${api.tail()}`);
    });
    await waitReady(server, token, 90_000, () => api.alive()).catch((err: Error) => {
      throw new Error(`kube-apiserver not ready: ${err.message}\n${api.tail()}`);
    });
    log(`kube-apiserver ready at ${server}`);

    const kubeconfig = kubeconfigYaml(server, token, join(certDir, 'apiserver.crt'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
    return {
      server,
      token,
      kubeconfig,
      kubeconfigPath,
      dir,
      apiServer: () => api,
      async restartApiServer(timeoutMs = 60_000) {
        if (api.alive()) throw new Error('kube-apiserver is still running');
        const next = startProcess('kube-apiserver', apiBin, apiArgs, dir);
        procs[procs.indexOf(api)] = next;
        api = next;
        await waitReady(server, token, timeoutMs, () => next.alive()).catch((err: Error) => {
          throw new Error(`kube-apiserver not ready after restart: ${err.message}\n${next.tail()}`);
        });
      },
      async stop() {
        await stopAll();
        if (!options.dir) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function kubeconfigYaml(server: string, token: string, caFile: string): string {
  const cluster: Record<string, unknown> = { server };
  // The apiserver writes its self-signed serving certificate and CA here on first start.
  if (existsSync(caFile)) cluster['certificate-authority-data'] = readFileSync(caFile).toString('base64');
  else cluster['insecure-skip-tls-verify'] = true;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'edgeplane-test', cluster }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'edgeplane-test', context: { cluster: 'edgeplane-test', user: 'admin' } }],
    'current-context': 'edgeplane-test',
  });
}

function getStatus(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitReady(server: string, token: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await getStatus(`${server}/readyz`, token)) === 200) return;
    if (!alive()) throw new Error('process exited');
    if (Date.now() > deadline) throw new Error(`/readyz not 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
