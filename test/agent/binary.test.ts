// The single executable: built by `make agent-binary` (rebuilt here when a source is newer),
// it answers --version and --help, refuses bad settings naming them, and run on a fixture
// root it says hello over NATS, serves /v2/health/ready and stops cleanly on SIGTERM.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AGENT_BINARY, ensureAgentBinary, freePort, startNats, type NatsServer } from '@edgeplane/env';
import { agentNats, agentProcessEnv } from '@edgeplane/env';
import { controlPlaneResponder, tempDir, until, type Responder } from './helpers.ts';

const run = promisify(execFile);
const binary = AGENT_BINARY;
const version = (await import('../../agent/package.json', { with: { type: 'json' } })).default.version;

describe('edgeplane-agent binary', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let responder: Responder;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    await ensureAgentBinary();
    nats = await startNats();
    cp = await connect(await nats.connectOptions('control-plane'));
    responder = controlPlaneResponder(cp, { heartbeatIntervalMs: 500 });
    dir = await tempDir('ep-agent-binary-');
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await cp?.close();
    await nats?.stop();
    await dir?.remove();
  });

  it('answers --version and --help', async () => {
    const { stdout } = await run(binary, ['--version']);
    expect(stdout).toMatch(new RegExp(`^edgeplane-agent ${version.replace(/\./g, '\\.')} \\(node 24\\.`));
    const help = await run(binary, ['--help']);
    expect(help.stdout).toContain('EP_AGENT_NATS_URL');
  });

  it('refuses a bad setting naming it, with exit code 2', async () => {
    const err = await run(binary, ['--node', 'Not_A_Label']).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain('--node: must be a lowercase DNS label');
  });

  it('runs on a fixture root: hello over NATS, /v2/health/ready, clean SIGTERM', async () => {
    const port = await freePort();
    const node = 'edge-binary-1';
    child = spawn(binary, [], {
      // Its own node credential and the CA, from the environment as the packaged service passes them.
      env: agentProcessEnv({ node, nats: await agentNats(nats, node), fixture: 'jetson-agx-xavier', dir: dir.path, httpAddr: `127.0.0.1:${port}` }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    const hello = await until(() => responder.hellos.find((h) => h.node === node), 'hello from the binary', 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
    expect(hello.accelerators.map((a) => `${a.id}:${a.type}`)).toEqual(['cpu0:CPU', 'gpu0:GPU', 'npu0:NPU', 'npu1:NPU']);
    expect(hello.agentVersion).toBe(version);

    const ready = await until(() => fetch(`http://127.0.0.1:${port}/v2/health/ready`).then((r) => r, () => null), 'local endpoint', 15_000);
    expect(ready.status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
