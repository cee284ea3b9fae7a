// `npm run bench -- enroll --nodes 1000 --json`: enrolment of a fleet through the real path.
// etcd + kube-apiserver (CRDs installed), nats-server in operator mode with TLS, redis-server,
// and the control plane as a child process with the trust file, its own NATS credentials and
// the CA; one bootstrap token Secret made as `edgeplane token create` makes it. Then every agent
// runs the agent's own identity code (agent/src/trust/): plan from its empty state dir, fetch
// the server's chain and keep the CA matching the --ca-hash pin, a fresh nkey, connect as the
// bootstrap user, request `ep.v1.enroll` with the proof, write nats.creds; then connect with
// its new credential (agent/src/fleet/connect.ts) and read its own `ep-assignments` key by
// direct get, the one read that credential allows. Each agent has its own connections.
//
// Baseline in the same run: the Kubernetes work alone. The same number of EdgeNodes read (404)
// and created as the enrolment path does it (control-plane/src/kube/edgenodes.ts), with the
// control plane's Kubernetes client from this process, as many at once as the control plane
// handles enrolments at once (256): the floor the API server sets under the figure.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EN_PLURAL, EnrollReply, GROUP, NODE_IDENTITY_ANNOTATIONS, VERSION, bootstrapSecretName, decode, stores, subjects } from '@edgeplane/api';
import { caHash } from '@edgeplane/trust';
import { ensureNamespace, freePort, installCrds, kubeConfig, repoRoot, startKube, startNats, startRedis, type KubeServer, type NatsServer, type RedisServer } from '@edgeplane/env';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { numberFlag, type Bench } from './run.ts';
import { createToken } from '../cli/src/identity/tokens.ts';
import { kubeClients, loadKubeConfig } from '../control-plane/src/kube/client.ts';
import { readEdgeNode, writeNodeIdentity } from '../control-plane/src/kube/edgenodes.ts';
import { connectNats } from '../agent/src/fleet/connect.ts';
import { enrolAndKeep, planIdentity, resolveCa, type IdentitySettings } from '../agent/src/trust/bootstrap.ts';
import { NodeIdentity } from '../agent/src/trust/identity.ts';
import { createNodeKey } from '../agent/src/trust/proof.ts';
import { serversCpuSeconds } from './servers-cpu.ts';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
const round = (x: number, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits;
/** The control plane's own limit on enrolments handled at once (control-plane/src/fleet/enroll.ts). */
const CONTROL_PLANE_IN_FLIGHT = 256;

/** What the agents' logs said, by error code: retries and anything unexpected. */
interface Tally {
  /** The control plane answered UNAVAILABLE (busy, a lost compare-and-swap, Kubernetes away). */
  busy: number;
  /** No answer in time, or no connection as the bootstrap user. */
  unanswered: number;
  /** Any other refusal: the benchmark fails on it. */
  refused: Map<string, number>;
  /** First connection with the node credential retried. */
  nodeConnectRetries: number;
  lastProblem: string | null;
}

/** The agents' logger: discards the lines and counts what they report. */
function countingLogger(tally: Tally): Logger {
  return pino(
    {
      level: 'info',
      hooks: {
        logMethod(args, method) {
          const [obj, msg] = args as unknown as [unknown, unknown];
          if (obj && typeof obj === 'object') {
            const { code, reason, err } = obj as { code?: unknown; reason?: unknown; err?: unknown };
            if (code === 'ENROLL_REFUSED' && reason === 'UNAVAILABLE') tally.busy++;
            else if (code === 'ENROLL_REFUSED') tally.refused.set(String(reason), (tally.refused.get(String(reason)) ?? 0) + 1);
            else if (code === 'ENROLL_UNAVAILABLE') tally.unanswered++;
            else if (msg === 'NATS not reachable; serving on and retrying') tally.nodeConnectRetries++;
            if (code !== undefined || err !== undefined) tally.lastProblem = `${String(msg)}: ${err instanceof Error ? err.message : String(err ?? code)}`;
          }
          method.apply(this, args);
        },
      },
    },
    { write: () => undefined },
  );
}

interface AgentTimes {
  /** From the agent's start to the pinned CA kept. */
  caMs: number;
  /** From the agent's start to its credential written. */
  enrolledMs: number;
  /** From the agent's start to its own key read with its own credential. */
  totalMs: number;
  startedAt: number;
  doneAt: number;
}

/** Agents past each step, for the progress lines. */
interface Progress {
  ca: number;
  enrolled: number;
  done: number;
}

/** One agent, start to proof of its credential, with the agent's own code. */
async function runAgent(s: IdentitySettings, kvBucket: string, log: Logger, progress: Progress): Promise<AgentTimes> {
  const startedAt = performance.now();
  const plan = await planIdentity(s, log);
  if (plan.kind !== 'enrol') throw new Error(`${s.node}: expected to enrol, planned ${plan.kind}`);
  const caPem = await resolveCa(s, log);
  if (!caPem) throw new Error(`${s.node}: no CA`);
  const caAt = performance.now();
  progress.ca++;
  const credentials = await enrolAndKeep(s, plan.join, caPem, log);
  if (!credentials) throw new Error(`${s.node}: enrolment stopped`);
  const enrolledAt = performance.now();
  progress.enrolled++;
  const identity = new NodeIdentity({ node: s.node, stateDir: s.stateDir, log, credentials });
  const signal = AbortSignal.timeout(60_000);
  const nc = await connectNats({ url: s.natsUrl, node: s.node, log, signal, authenticator: identity.authenticator(), caPem });
  if (!nc) throw new Error(`${s.node}: no connection with its node credential within 60 s`);
  try {
    identity.attach(nc);
    // A permission violation throws here; a key nobody wrote yet reads as null.
    const kv = await new Kvm(nc).open(kvBucket, { allow_direct: true });
    const entry = await kv.get(s.node);
    if (entry !== null && entry.operation === 'PUT') throw new Error(`${s.node}: unexpected assignment at revision ${entry.revision}`);
  } finally {
    identity.close();
    await nc.close();
  }
  const doneAt = performance.now();
  progress.done++;
  return { caMs: caAt - startedAt, enrolledMs: enrolledAt - startedAt, totalMs: doneAt - startedAt, startedAt, doneAt };
}

/** Runs `work(i)` for i in [0, n) with at most `limit` at once. */
async function pool<T>(n: number, limit: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) out[i] = await work(i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}

/** User + system CPU seconds of a process so far, from /proc (Linux). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

interface ControlPlaneChild {
  pid: number;
  address: string;
  stop(): Promise<void>;
}

async function startControlPlaneChild(env: Record<string, string>, nodeArgs: string[], log: (l: string) => void): Promise<ControlPlaneChild> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'control-plane/src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const address = `http://${env.EP_API_ADDR}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`control plane exited before it was ready\n${tail}`);
    if (await fetch(`${address}/readyz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`control plane not ready within 60 s\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    address,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(timer);
      if (/error/i.test(tail)) log(`control plane output (tail):\n${tail.slice(-2000)}`);
    },
  };
}

/** Until the leader's enrolment responder answers (a malformed request: no Kubernetes work). */
async function waitForEnrolment(nc: NatsConnection, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const msg = await nc.request(subjects.enroll, '{}', { timeout: 1000 });
      if (decode(EnrollReply, 'enrol reply', msg.data).ok) return;
    } catch {
      // no leader yet
    }
    if (Date.now() > deadline) throw new Error(`no enrolment responder within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The Kubernetes work of enrolment alone: read each EdgeNode (absent), create it with its identity. */
async function kubeBaseline(kubeconfigPath: string, names: string[], limit: number): Promise<{ seconds: number; perSecond: number }> {
  const { custom } = kubeClients(loadKubeConfig({ source: 'file', path: kubeconfigPath }));
  const start = performance.now();
  await pool(names.length, limit, async (i) => {
    const name = names[i]!;
    const existing = await readEdgeNode(custom, name);
    const annotations = {
      [NODE_IDENTITY_ANNOTATIONS.nkey]: createNodeKey().publicKey,
      [NODE_IDENTITY_ANNOTATIONS.enrolledBy]: 'bench0',
      [NODE_IDENTITY_ANNOTATIONS.enrolledAt]: new Date().toISOString(),
    };
    await writeNodeIdentity({ custom }, name, existing, annotations, () => false);
  });
  const seconds = (performance.now() - start) / 1000;
  return { seconds: round(seconds, 2), perSecond: round(names.length / seconds) };
}

async function countEdgeNodes(custom: CustomObjectsApi, prefix: string): Promise<{ total: number; withKey: number }> {
  const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL })) as {
    items: { metadata: { name: string; annotations?: Record<string, string> } }[];
  };
  const ours = list.items.filter((i) => i.metadata.name.startsWith(prefix));
  return { total: ours.length, withKey: ours.filter((i) => i.metadata.annotations?.[NODE_IDENTITY_ANNOTATIONS.nkey]).length };
}

const bench: Bench = async ({ argv, log }) => {
  const nodes = numberFlag(argv, 'nodes', 1000);
  const concurrency = numberFlag(argv, 'concurrency', nodes);
  const baselineAtOnce = numberFlag(argv, 'baseline-concurrency', CONTROL_PLANE_IN_FLIGHT);
  const cpuProf = argv.includes('--cpu-prof');
  if (nodes < 1 || nodes > 20_000 || concurrency < 1) throw new Error('--nodes 1..20000 and --concurrency at least 1');

  const run = randomBytes(3).toString('hex');
  const namespace = `ep-enroll-${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'ep-bench-enroll-'));
  let kube: KubeServer | undefined;
  let nats: NatsServer | undefined;
  let redis: RedisServer | undefined;
  let cp: ControlPlaneChild | undefined;
  let admin: NatsConnection | undefined;
  try {
    log('starting etcd + kube-apiserver, nats-server (JWT auth, TLS), redis-server');
    [kube, nats, redis] = await Promise.all([startKube(), startNats(), startRedis()]);
    await installCrds(kube);
    const kc = kubeConfig(kube);
    await ensureNamespace(kc, namespace);
    const trust = nats.trust!;
    const trustFile = join(dir, 'trust.json');
    writeFileSync(trustFile, JSON.stringify(trust), { mode: 0o600 });
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kube.kubeconfig, { mode: 0o600 });

    const profDir = join(dir, 'profile');
    if (cpuProf) mkdirSync(profDir);
    cp = await startControlPlaneChild(
      {
        EP_NATS_URL: nats.url,
        EP_NATS_CREDS: await nats.credsFile('control-plane'),
        EP_NATS_CA: nats.caFile!,
        EP_TRUST_FILE: trustFile,
        EP_BOOTSTRAP_NAMESPACE: namespace,
        EP_REDIS_URL: redis.url,
        EP_KUBECONFIG: kubeconfigPath,
        EP_NAMESPACES: namespace,
        EP_LEASE_NAME: `edgeplane-${run}`,
        EP_LEASE_NAMESPACE: namespace,
        EP_API_ADDR: `127.0.0.1:${await freePort()}`,
        EP_LOG_LEVEL: 'warn',
        EP_IDENTITY: `cp-${run}`,
      },
      cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
      log,
    );
    admin = await connect(await nats.connectOptions('admin'));
    await waitForEnrolment(admin, 60_000);
    log(`control plane (pid ${cp.pid}) leads and answers enrolment`);

    // One token for the whole fleet, as `edgeplane token create --max-uses N --node-name-pattern` makes it.
    const prefix = `n${run}`;
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const token = await createToken(core, namespace, trust, { ttlMs: 3_600_000, maxUses: nodes, nodeNamePattern: `${prefix}-*`, description: 'enrol benchmark' });
    const pin = caHash(trust.ca.certPem);
    log(`bootstrap token ${token.token.tokenId} (${nodes} uses); ${nodes} agents, ${Math.min(concurrency, nodes)} at once, pin ${pin}`);

    const tally: Tally = { busy: 0, unanswered: 0, refused: new Map(), nodeConnectRetries: 0, lastProblem: null };
    const agentLog = countingLogger(tally);
    const agentsDir = join(dir, 'agents');
    mkdirSync(agentsDir);
    const settings = (i: number): IdentitySettings => {
      const node = `${prefix}-${i}`;
      return { node, natsUrl: nats!.url, stateDir: join(agentsDir, node), bootstrapToken: token.joinToken, caHash: pin, insecureNats: false };
    };

    const progress: Progress = { ca: 0, enrolled: 0, done: 0 };
    const start = performance.now();
    const metricsUrl = `${cp.address}/metrics`;
    const ticker = setInterval(() => {
      const at = round((performance.now() - start) / 1000, 1);
      // The control plane's own count, read with the API server's admin token (its /metrics is RBAC-checked).
      void fetch(metricsUrl, { headers: { authorization: `Bearer ${kube!.token}` } })
        .then((r) => r.text())
        .then((text) => {
          const accepted = /edgeplane_enrollments_total\{outcome="accepted"\} (\d+)/.exec(text)?.[1] ?? '0';
          log(`${at} s: CA kept ${progress.ca}, enrolled ${progress.enrolled}, connected with own credential ${progress.done} of ${nodes}; control plane accepted ${accepted}; busy answers ${tally.busy}, unanswered ${tally.unanswered}`);
        })
        .catch(() => undefined);
    }, 1000);
    const cpuBefore = cpuSecondsOf(cp.pid);
    const serversBefore = serversCpuSeconds();
    const ownBefore = process.cpuUsage();
    let times: AgentTimes[];
    try {
      times = await pool(nodes, concurrency, (i) => runAgent(settings(i), stores.assignments, agentLog, progress));
    } finally {
      clearInterval(ticker);
    }
    const end = Math.max(...times.map((t) => t.doneAt));
    const first = Math.min(...times.map((t) => t.startedAt));
    const seconds = (end - first) / 1000;
    const controlPlaneCpuSeconds = cpuSecondsOf(cp.pid) - cpuBefore;
    const serversAfter = serversCpuSeconds();
    const serversCpu = Object.fromEntries(Object.entries(serversAfter).map(([k, v]) => [k, round(v - (serversBefore[k] ?? 0), 2)]));
    const own = process.cpuUsage(ownBefore);
    if (tally.refused.size > 0) throw new Error(`refusals other than UNAVAILABLE: ${JSON.stringify(Object.fromEntries(tally.refused))}; last: ${tally.lastProblem}`);

    const counted = await countEdgeNodes(custom, `${prefix}-`);
    const secret = await core.readNamespacedSecret({ name: bootstrapSecretName(token.token.tokenId), namespace });
    const uses = Number(Buffer.from(secret.data?.uses ?? '', 'base64').toString());
    if (counted.withKey !== nodes || uses !== nodes) throw new Error(`expected ${nodes} EdgeNodes with a key and ${nodes} uses; found ${counted.withKey} and ${uses}`);
    const total = times.map((t) => t.totalMs).sort((a, b) => a - b);
    const enrolled = times.map((t) => t.enrolledMs).sort((a, b) => a - b);
    const ca = times.map((t) => t.caMs).sort((a, b) => a - b);
    log(`${nodes} agents enrolled and connected with their own credential in ${round(seconds, 2)} s; control plane CPU ${round(controlPlaneCpuSeconds, 2)} s`);

    // The control plane stops first, so the baseline has the API server to itself.
    await cp.stop();
    log(`baseline: ${nodes} EdgeNode reads and creates straight to the API server, ${baselineAtOnce} at once`);
    const baseline = await kubeBaseline(kubeconfigPath, Array.from({ length: nodes }, (_, i) => `b${run}-${i}`), baselineAtOnce);
    log(`baseline: ${baseline.seconds} s (${baseline.perSecond}/s)`);

    return {
      bench: 'enroll',
      nodes,
      concurrency: Math.min(concurrency, nodes),
      // First agent's first request to the last agent's read with its own credential.
      seconds: round(seconds, 2),
      enrolPerSecond: round(nodes / seconds, 1),
      agentMsP50: round(percentile(total, 0.5)),
      agentMsP99: round(percentile(total, 0.99)),
      caMsP50: round(percentile(ca, 0.5)),
      caMsP99: round(percentile(ca, 0.99)),
      enrolledMsP50: round(percentile(enrolled, 0.5)),
      enrolledMsP99: round(percentile(enrolled, 0.99)),
      retries: { busy: tally.busy, unanswered: tally.unanswered, nodeConnect: tally.nodeConnectRetries },
      controlPlaneCpuSeconds: round(controlPlaneCpuSeconds, 2),
      // The agents' side (CA discovery, TLS, proofs, files) in this process, for comparison.
      agentsCpuSeconds: round((own.user + own.system) / 1e6, 2),
      // The servers on the same two cores, over the same interval.
      serversCpuSeconds: serversCpu,
      edgeNodes: counted.total,
      tokenUses: uses,
      baseline: {
        what: `the Kubernetes work alone: ${nodes} EdgeNodes read (absent) and created with their identity annotations, as enrolment does, straight to the API server with the control plane's client, ${baselineAtOnce} at once`,
        seconds: baseline.seconds,
        perSecond: baseline.perSecond,
      },
      controlPlane: 'child process',
      ...(cpuProf ? { cpuProfileDir: profDir } : {}),
      goal: { seconds: 30 },
      // Other work on the two cores moves the figure; the load says how busy they were.
      loadAverage1m: round(loadavg()[0] ?? 0, 2),
    };
  } finally {
    log('stopping');
    await admin?.close().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
    await Promise.all([nats?.stop(), redis?.stop()].map((p) => p?.catch(() => undefined)));
    await kube?.stop().catch(() => undefined);
    if (!cpuProf) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir} for the CPU profile`);
  }
};

export default bench;
