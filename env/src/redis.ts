import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess } from './process.ts';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A redis-server without persistence on a free loopback port. */
export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-redis-'));
  const port = await freePort();
  const proc = startProcess(
    'redis-server',
    redisBinary(),
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
    dir,
  );
  try {
    await waitForPort(port, 10_000, () => proc.alive());
  } catch (err) {
    await proc.stop();
    throw new Error(`redis-server did not start: ${(err as Error).message}\n${proc.tail()}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
