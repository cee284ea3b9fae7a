// A real agent process serving models over REST and gRPC, for the conformance suite and the
// serving benchmark: `edgeplane-agent` run from source with its assignment already on disk
// (as after a restart), so it serves at once. NATS is a real server with the node's own
// credential and a stand-in control plane answering hello.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Assignment, Precision, WorkloadAssignment } from '@edgeplane/api';
import { agentNats, agentProcessEnv, controlPlaneResponder, freePort, repoRoot, startNats, tempDir, type NatsServer, type Responder } from './index.ts';
import { serveTag } from '@edgeplane/trust';
import { sha256 } from '../../agent/src/workloads/fixtures/assignments.ts';

export interface ServedModelFile {
  /** Deployment name: the model name clients use. */
  name: string;
  precision: Precision;
  /** ONNX bytes. */
  bytes: Uint8Array;
  maxBatch?: number;
  /** The deployment default, 0: a request waits only while the model is busy, and then batches with what queued meanwhile. */
  maxQueueDelayMs?: number;
}

export interface ServingAgent {
  httpUrl: string;
  /** host:port of the gRPC endpoint. */
  grpcAddress: string;
  /** The agent's log so far (stdout and stderr). */
  log(): string;
  stop(): Promise<void>;
}

const NODE = 'oip-1';

async function waitReady(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the agent exited with ${child.exitCode}:\n${output().slice(-4000)}`);
    const ok = await fetch(`${url}/v2/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the agent was not ready after ${timeoutMs} ms:\n${output().slice(-4000)}`);
}

/** Starts the agent with `models` assigned; resolves once /v2/health/ready answers 200. */
export async function startServingAgent(models: readonly ServedModelFile[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ServingAgent> {
  const dir = await tempDir('ep-oip-');
  let nats: NatsServer | undefined;
  let cp: NatsConnection | undefined;
  let responder: Responder | undefined;
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    responder?.stop();
    await cp?.close();
    await nats?.stop();
    await dir.remove();
  };
  try {
    const modelDir = join(dir.path, 'models');
    mkdirSync(modelDir, { recursive: true });
    const workloads: WorkloadAssignment[] = models.map((m) => {
      const path = join(modelDir, `${m.name}.onnx`);
      writeFileSync(path, m.bytes);
      return {
        key: `default/${m.name}`,
        namespace: 'default',
        deployment: m.name,
        model: m.name,
        task: 'regression',
        variant: { name: m.precision, precision: m.precision, profile: 'full', uri: pathToFileURL(path).href, sha256: sha256(m.bytes), sizeBytes: m.bytes.byteLength, memoryMiB: 1 },
        accelerator: 'cpu0',
        maxBatch: m.maxBatch ?? 8,
        maxQueueDelayMs: m.maxQueueDelayMs ?? 0,
        latencySloMs: 1000,
      };
    });
    const stateDir = join(dir.path, 'state');
    mkdirSync(stateDir, { recursive: true });
    const assignment: Assignment = { v: 1, node: NODE, workloads, issuedAtMs: Date.now() };
    writeFileSync(join(stateDir, 'assignment.json'), JSON.stringify({ revision: 1, savedAtMs: Date.now(), assignment }));

    nats = await startNats();
    cp = await connect(await nats.connectOptions('control-plane'));
    responder = controlPlaneResponder(cp);
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    let output = '';
    child = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'agent', 'src', 'cli.ts')], {
      env: agentProcessEnv({
        node: NODE,
        // Granted to serve each deployment, as the control plane's credential would be.
        nats: await agentNats(nats, NODE, models.map((m) => serveTag('default', m.name))),
        fixture: 'x86-vnni-server',
        dir: dir.path,
        httpAddr: `127.0.0.1:${httpPort}`,
        grpcAddr: `127.0.0.1:${grpcPort}`,
        logLevel: 'error',
        extra: { EP_AGENT_FILE_ROOTS: modelDir, ...options.env },
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    await waitReady(httpUrl, child, () => output, options.timeoutMs ?? 60_000);
    return { httpUrl, grpcAddress: `127.0.0.1:${grpcPort}`, log: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
