// A real agent process (agent/src/cli.ts, as `npm start` runs it) serves /metrics on its REST
// port, and promtool accepts what it serves.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { agentNats, agentProcessEnv, controlPlaneResponder, freePort, goBinary, repoRoot, startNats, tempDir, until, type NatsServer, type Responder } from '@edgeplane/env';

describe('agent /metrics', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let responder: Responder;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    nats = await startNats();
    cp = await connect(await nats.connectOptions('control-plane'));
    responder = controlPlaneResponder(cp, { heartbeatIntervalMs: 500 });
    dir = await tempDir('ep-agent-metrics-');
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await cp?.close();
    await nats?.stop();
    await dir?.remove();
  });

  it('serves the agent\'s metrics beside /v2, and promtool check metrics passes on them', async () => {
    const port = await freePort();
    const node = 'edge-metrics-1';
    child = spawn(process.execPath, [join(repoRoot, 'agent', 'src', 'cli.ts')], {
      cwd: join(repoRoot, 'agent'),
      env: agentProcessEnv({ node, nats: await agentNats(nats, node), fixture: 'jetson-agx-xavier', dir: dir.path, httpAddr: `127.0.0.1:${port}` }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await until(() => responder.hellos.find((h) => h.node === node), 'hello from the agent', 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });

    const res = await until(() => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => (r.ok ? r : null), () => null), 'agent /metrics', 15_000);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    for (const name of ['edgeplane_agent_cache_bytes', 'edgeplane_agent_cache_hits_total', 'edgeplane_agent_inference_requests_total', 'edgeplane_agent_queue_depth', 'edgeplane_agent_process_resident_memory_bytes']) {
      expect(body, name).toContain(`# TYPE ${name} `);
    }
    const check = await new Promise<{ code: number; out: string }>((resolve) => {
      const p = execFile(goBinary('promtool'), ['check', 'metrics'], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }));
      p.stdin?.end(body);
    });
    expect(check.out).toBe('');
    expect(check.code).toBe(0);
  });
});
