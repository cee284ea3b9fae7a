import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess, type ServerProcess } from './process.ts';

export interface NatsServer {
  url: string;
  port: number;
  /** JetStream store; kept across restart() so KV and object store survive. */
  storeDir: string;
  dir: string;
  stop(): Promise<void>;
  /** Stops the server, for outage tests; restart() brings it back on the same port. */
  pause(): Promise<void>;
  restart(): Promise<void>;
}

export interface NatsOptions {
  jetstream?: boolean;
  /** Extra nats-server configuration appended to the generated file (accounts, limits). */
  config?: string;
  /** Keep the working directory after stop, for debugging. */
  keep?: boolean;
}

/** A nats-server (JetStream on by default) on a free loopback port, in its own temp dir. */
export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-nats-'));
  const storeDir = join(dir, 'jetstream');
  mkdirSync(storeDir);
  const port = await freePort();
  const conf = [
    `listen: "127.0.0.1:${port}"`,
    'server_name: "ep-test"',
    'max_payload: 8MB',
    options.jetstream === false ? '' : `jetstream { store_dir: "${storeDir}", max_memory_store: 256MB, max_file_store: 4GB }`,
    options.config ?? '',
  ].join('\n');
  const confFile = join(dir, 'nats.conf');
  writeFileSync(confFile, `${conf}\n`);
  const binary = goBinary('nats-server');

  let proc: ServerProcess | undefined;
  const launch = async () => {
    proc = startProcess('nats-server', binary, ['-c', confFile], dir);
    const p = proc;
    try {
      await waitForPort(port, 15_000, () => p.alive());
    } catch (err) {
      await p.stop();
      throw new Error(`nats-server did not start: ${(err as Error).message}\n${p.tail()}`);
    }
  };
  await launch();

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    dir,
    async stop() {
      await proc?.stop();
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    },
    async pause() {
      await proc?.stop();
    },
    async restart() {
      await proc?.stop();
      await launch();
    },
  };
}
