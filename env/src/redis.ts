import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueServerCert } from '@edgeplane/trust/certs';
import { redisBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess } from './process.ts';

export interface RedisServer {
  /** `rediss://` when served over TLS. */
  url: string;
  port: number;
  /** The CA of the server's certificate (PEM file), when served over TLS. */
  caFile: string | null;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Serve TLS only, with a certificate from a CA made for this server. */
  tls?: boolean;
}

async function tlsArgs(dir: string, port: number): Promise<{ args: string[]; caFile: string }> {
  const ca = await createCa('edgeplane local Redis CA');
  const server = await issueServerCert(ca, { commonName: 'redis', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(join(dir, 'server.pem'), server.certPem);
  writeFileSync(join(dir, 'server-key.pem'), server.keyPem, { mode: 0o600 });
  return {
    caFile,
    args: ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server-key.pem'), '--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no'],
  };
}

/** A redis-server without persistence on a free loopback port (TLS only when asked). */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-redis-'));
  const port = await freePort();
  const tls = options.tls ? await tlsArgs(dir, port) : null;
  const proc = startProcess(
    'redis-server',
    redisBinary(),
    [...(tls ? tls.args : ['--port', String(port)]), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
    dir,
  );
  try {
    await waitForPort(port, 10_000, () => proc.alive());
  } catch (err) {
    await proc.stop();
    throw new Error(`redis-server did not start: ${(err as Error).message}\n${proc.tail()}`);
  }
  return {
    url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    caFile: tls?.caFile ?? null,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
