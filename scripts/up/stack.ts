// Everything `make up` and the end-to-end test run: servers (or the cluster of $KUBECONFIG),
// CRDs, the control plane, and real agents. Returns handles and one stop() for all of it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseConfig, startControlPlane, type ControlPlane } from '@edgeplane/control-plane';
import { installCrds, kubeConfig, startKube, startNats, startRedis, type KubeAccess, type NatsServer } from '@edgeplane/env';
import { caHash, type TrustMaterial } from '@edgeplane/trust';
import { createToken } from '../../cli/src/identity/tokens.ts';
import { startAgentProcess, type AgentProcess, type AgentSpec } from './agents.ts';
import { viewerToken, type ApiEndpoint } from './api-token.ts';

export interface StackOptions {
  agents: AgentSpec[];
  log: (line: string) => void;
  /** Use this cluster instead of starting etcd + kube-apiserver (make up honours $KUBECONFIG). */
  kubeconfigPath?: string | undefined;
  heartbeatIntervalMs?: number;
}

export interface Stack {
  kube: KubeAccess;
  nats: NatsServer;
  redisUrl: string;
  controlPlane: ControlPlane;
  /** The control plane's HTTP API with a read-only token it accepts. */
  api: ApiEndpoint;
  agents: AgentProcess[];
  workDir: string;
  stop(): Promise<void>;
}

const core = (kube: KubeAccess) => kubeConfig(kube).makeApiClient(CoreV1Api);

/** The trust material as the control plane's --trust-file (mode 0600). */
function writeTrustFile(workDir: string, trust: TrustMaterial): string {
  const file = join(workDir, 'trust.json');
  writeFileSync(file, JSON.stringify(trust), { mode: 0o600 });
  return file;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const { log } = options;
  const workDir = mkdtempSync(join(tmpdir(), 'ep-up-'));
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    // Each step is bounded: one that hangs (a client waiting on a server already gone) must
    // not keep the rest running.
    for (const fn of stops.reverse()) {
      await Promise.race([fn().catch(() => {}), new Promise((r) => setTimeout(r, 20_000).unref())]);
    }
    stops.length = 0;
  };
  // Registered first so that it runs last, after every process writing there has stopped.
  stops.push(async () => rmSync(workDir, { recursive: true, force: true }));
  try {
    let kube: KubeAccess;
    if (options.kubeconfigPath) {
      const kubeconfig = readFileSync(options.kubeconfigPath, 'utf8');
      kube = { server: '(from kubeconfig)', token: '', kubeconfigPath: options.kubeconfigPath, kubeconfig };
      log(`using the cluster of ${options.kubeconfigPath}`);
    } else {
      log('starting etcd and kube-apiserver');
      const started = await startKube({ log });
      stops.push(() => started.stop());
      kube = started;
    }
    // Operator mode: every process below has its own credentials and verifies the server's CA;
    // the agents enrol for theirs.
    const nats = await startNats();
    if (!nats.trust || !nats.caFile) throw new Error('unreachable: a secure nats-server has trust material');
    const trust = nats.trust;
    stops.push(() => nats.stop());
    const redis = await startRedis();
    stops.push(() => redis.stop());
    log(`nats-server (JetStream, JWT auth, TLS) at ${nats.url}, redis-server at ${redis.url}`);
    log(`CRDs established: ${(await installCrds(kube)).join(', ')}`);

    const parsed = parseConfig({
      argv: [],
      env: {
        EP_NATS_URL: nats.url,
        EP_NATS_CREDS: await nats.credsFile('control-plane'),
        EP_NATS_CA: nats.caFile,
        // The material `edgeplane certs` writes: the leader enrols, renews and revokes with it.
        EP_TRUST_FILE: writeTrustFile(workDir, trust),
        EP_REDIS_URL: redis.url,
        EP_KUBECONFIG: kube.kubeconfigPath,
        EP_API_ADDR: '127.0.0.1:0',
        EP_HEARTBEAT_INTERVAL_MS: String(options.heartbeatIntervalMs ?? 1000),
        EP_LEASE_DURATION_MS: '5000',
        EP_RENEW_DEADLINE_MS: '3000',
        EP_RETRY_PERIOD_MS: '1000',
      },
    });
    if (parsed.help) throw new Error('unreachable: no --help given');
    const config = parsed.config;
    mkdirSync(workDir, { recursive: true });
    const cpLog = join(workDir, 'control-plane.log');
    const controlPlane = await startControlPlane(config, { logger: pino({ level: 'info' }, pino.destination({ dest: cpLog, sync: false })) });
    stops.push(() => controlPlane.stop());
    log(`control plane up, API at ${controlPlane.address} (log: ${cpLog})`);
    const api = await viewerToken(kubeConfig(kube), controlPlane.address, workDir);
    stops.push(() => api.remove());

    // One bootstrap token for the demo's agents, as `edgeplane token create` makes it. Each
    // agent enrols with it, pinning the CA by hash; the leader signs its node credential.
    // Re-enrolment is allowed: against $KUBECONFIG's cluster, EdgeNodes of an earlier run name
    // keys from material that no longer exists.
    const joined = await createToken(core(kube), config.bootstrapNamespace ?? config.leaseNamespace, trust, {
      ttlMs: 3_600_000,
      maxUses: options.agents.length,
      allowReenrollment: true,
      description: 'make up agents',
    });
    const bootstrapTokenFile = join(workDir, 'join-token');
    writeFileSync(bootstrapTokenFile, joined.joinToken, { mode: 0o600 });
    stops.push(() => core(kube).deleteNamespacedSecret({ namespace: joined.namespace, name: joined.secretName }).then(() => undefined));
    const pin = caHash(readFileSync(nats.caFile));
    log(`bootstrap token ${joined.token.tokenId} (${options.agents.length} uses, 1 h) in ${joined.namespace}; agents pin the CA ${pin}`);

    const agents: AgentProcess[] = [];
    for (const spec of options.agents) {
      const agent = await startAgentProcess(spec, { url: nats.url, bootstrapTokenFile, caHash: pin }, workDir);
      stops.push(() => agent.stop());
      agents.push(agent);
      log(`agent ${spec.node} started on fixture ${spec.fixture}, KServe v2 at ${agent.http} (log: ${agent.logFile})`);
    }
    return { kube, nats, redisUrl: redis.url, controlPlane, api, agents, workDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
