import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from '@nats-io/transport-node';
import type { TrustMaterial } from '@edgeplane/trust';
import { goBinary } from './binaries.ts';
import { prepareNatsTrust, trustedConnectOptions, writeCredsFile, type NatsIdentity, type NatsTrustFiles } from './nats-trust.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess, type ServerProcess } from './process.ts';

export interface NatsServer {
  /** `tls://` when secure, `nats://` for an insecure baseline. */
  url: string;
  port: number;
  /** The fleet's trust material; null only for an insecure server. */
  trust: TrustMaterial | null;
  /** The CA that signed the server's certificate (PEM file), null when insecure. */
  caFile: string | null;
  /** Connection options for an identity: the URL, TLS pinned to the CA, credentials. */
  connectOptions(who?: NatsIdentity): Promise<ConnectionOptions>;
  /** A credentials file (mode 0600) for a process the environment starts. */
  credsFile(who: NatsIdentity): Promise<string>;
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
  /**
   * No TLS and no authentication: anyone on loopback may publish anything. Only for a
   * baseline measured beside the secure figure; never the default.
   */
  insecure?: boolean;
  /** Trust material to reuse (make up keeps its own); fresh otherwise. */
  trust?: TrustMaterial;
}

/**
 * A nats-server (JetStream on by default) on a free loopback port, in its own temp dir, in
 * operator mode with JWT authentication and TLS unless `insecure` is asked for.
 */
export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-nats-'));
  const storeDir = join(dir, 'jetstream');
  mkdirSync(storeDir);
  const port = await freePort();
  let files: NatsTrustFiles | null = null;
  if (options.insecure) {
    console.warn(`[env] nats-server on port ${port} runs WITHOUT TLS OR AUTHENTICATION (insecure baseline)`);
  } else {
    mkdirSync(join(dir, 'accounts'));
    files = await prepareNatsTrust(dir, options.trust);
  }
  const conf = [
    `listen: "127.0.0.1:${port}"`,
    'server_name: "ep-test"',
    'max_payload: 8MB',
    options.jetstream === false ? '' : `jetstream { store_dir: "${storeDir}", max_memory_store: 256MB, max_file_store: 4GB }`,
    files?.config ?? '',
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

  const url = `${files ? 'tls' : 'nats'}://127.0.0.1:${port}`;
  return {
    url,
    port,
    trust: files?.trust ?? null,
    caFile: files?.caFile ?? null,
    async connectOptions(who: NatsIdentity = 'admin') {
      return files ? trustedConnectOptions(files, url, who) : { servers: url };
    },
    async credsFile(who: NatsIdentity) {
      if (!files) throw new Error('an insecure nats-server has no credentials');
      return writeCredsFile(dir, files.trust, who);
    },
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
