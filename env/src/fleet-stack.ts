// A whole fleet on loopback for the simulator test and the scale benchmarks: kube-apiserver
// (shared or its own), nats-server, redis-server, the control plane (in this process or as a
// child process) and the simulator, each stopped again by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ensureNamespace } from './index.ts';
import { freePort, installCrds, kubeConfig, repoRoot, startKube, startNats, startRedis, type KubeAccess, type NatsServer, type RedisServer } from './index.ts';
import { parseConfig } from '../../control-plane/src/config.ts';
import { startControlPlane } from '../../control-plane/src/index.ts';
import { CONTROL_PLANE_NODE_FLAGS } from '../../control-plane/src/node-flags.ts';
import { startSimulation, type Simulation, type SimulationOptions } from '../../cli/src/simulate/index.ts';
import { controlPlaneNats, controlPlaneNatsEnv } from './nats-settings.ts';

export const FLEET_LABEL = 'edgeplane.io/fleet';

export interface FleetStackOptions {
  nodes: number;
  mix?: string;
  /** A running apiserver with the CRDs installed; absent: start one. */
  kube?: KubeAccess;
  controlPlane: 'in-process' | 'child';
  heartbeatIntervalMs?: number;
  /** Extra control-plane environment (EP_*). */
  env?: Record<string, string>;
  simulation?: Partial<Omit<SimulationOptions, 'natsUrl' | 'natsCreds' | 'natsCa' | 'nodes'>>;
  /** Runs once the control plane is up and before the simulator starts, e.g. to measure it idle. */
  beforeSimulation?: (controlPlane: ControlPlaneHandle) => Promise<void>;
  /** How long the fleet may take to say hello, ms. */
  helloTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ControlPlaneHandle {
  address: string;
  /** Process id when it runs as a child. */
  pid: number | null;
  stop(): Promise<void>;
}

export interface FleetStack {
  runId: string;
  /** Namespace the control plane reconciles; put deployments here. */
  namespace: string;
  /** Labels of this run's nodes, for a deployment's selector. */
  fleetLabels: Record<string, string>;
  fleetSelector: string;
  kube: KubeAccess;
  kc: KubeConfig;
  nats: NatsServer;
  redis: RedisServer;
  controlPlane: ControlPlaneHandle;
  /** The control plane's environment, for starting more replicas of it. */
  controlPlaneEnv: Record<string, string>;
  sim: Simulation;
  stop(): Promise<void>;
}

async function waitReady(address: string, timeoutMs: number, alive: () => boolean, tail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`control plane exited before it was ready\n${tail()}`);
    try {
      const res = await fetch(`${address}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`control plane not ready within ${timeoutMs} ms\n${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A control-plane replica as a child process with this environment (EP_* settings). */
export async function startControlPlaneChild(env: Record<string, string>): Promise<ControlPlaneHandle> {
  const child: ChildProcess = spawn(process.execPath, [...CONTROL_PLANE_NODE_FLAGS, '--import', 'tsx', 'control-plane/src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const address = `http://${env.EP_API_ADDR}`;
  try {
    await waitReady(address, 60_000, () => !exited, () => tail);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    pid: child.pid ?? null,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

export async function startFleetStack(options: FleetStackOptions): Promise<FleetStack> {
  const log = options.log ?? (() => undefined);
  const runId = randomBytes(3).toString('hex');
  const namespace = `sim-${runId}`;
  const fleetLabels = { [FLEET_LABEL]: runId };
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log(`stop: ${(err as Error).message}`));
  };

  try {
    let kube = options.kube;
    if (!kube) {
      log('starting etcd + kube-apiserver');
      const own = await startKube();
      stops.push(() => own.stop());
      await installCrds(own);
      kube = own;
    }
    const kc = kubeConfig(kube);
    await ensureNamespace(kc, namespace);
    const nats = await startNats();
    stops.push(() => nats.stop());
    const redis = await startRedis();
    stops.push(() => redis.stop());
    log(`nats ${nats.url}, redis ${redis.url}, namespace ${namespace}`);

    const dir = mkdtempSync(join(tmpdir(), 'ep-sim-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kube.kubeconfig, { mode: 0o600 });

    const env: Record<string, string> = {
      // Its own credentials and the CA, as the chart mounts them.
      ...controlPlaneNatsEnv(await controlPlaneNats(nats)),
      EP_REDIS_URL: redis.url,
      EP_KUBECONFIG: kubeconfigPath,
      EP_NAMESPACES: namespace,
      EP_NODE_SELECTOR: `${FLEET_LABEL}=${runId}`,
      EP_LEASE_NAME: `edgeplane-${runId}`,
      EP_LEASE_NAMESPACE: namespace,
      EP_HEARTBEAT_INTERVAL_MS: String(options.heartbeatIntervalMs ?? 5000),
      EP_API_ADDR: `127.0.0.1:${await freePort()}`,
      EP_LOG_LEVEL: 'warn',
      EP_IDENTITY: `cp-${runId}`,
      ...options.env,
    };
    let controlPlane: ControlPlaneHandle;
    if (options.controlPlane === 'child') {
      controlPlane = await startControlPlaneChild(env);
    } else {
      const parsed = parseConfig({ env });
      if (parsed.help) throw new Error('unexpected help');
      const cp = await startControlPlane(parsed.config);
      await waitReady(cp.address, 60_000, () => true, () => '');
      controlPlane = { address: cp.address, pid: null, stop: () => cp.stop() };
    }
    stops.push(() => controlPlane.stop());
    log(`control plane ${options.controlPlane} at ${controlPlane.address}${controlPlane.pid ? ` (pid ${controlPlane.pid})` : ''}`);

    await options.beforeSimulation?.(controlPlane);
    // The simulator speaks for every node over shared connections: an administrator's credentials.
    const sim = await startSimulation({
      natsUrl: nats.url,
      natsCreds: await nats.credsFile('admin'),
      natsCa: nats.caFile ?? undefined,
      nodes: options.nodes,
      ...(options.mix ? { mix: options.mix } : {}),
      namePrefix: `n${runId}`,
      ...options.simulation,
      labels: { ...options.simulation?.labels, ...fleetLabels },
    });
    stops.push(() => sim.stop());
    const started = Date.now();
    const progress = setInterval(() => log(`hellos accepted: ${sim.accepted()}/${options.nodes}`), 2000);
    try {
      await sim.waitAccepted(options.helloTimeoutMs ?? 120_000);
    } finally {
      clearInterval(progress);
    }
    log(`${options.nodes} simulated nodes said hello in ${Date.now() - started} ms`);

    return { runId, namespace, fleetLabels, fleetSelector: `${FLEET_LABEL}=${runId}`, kube, kc, nats, redis, controlPlane, controlPlaneEnv: env, sim, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
