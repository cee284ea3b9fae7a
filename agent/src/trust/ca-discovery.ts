// CA discovery for `--ca-hash`: NATS greets in plain text (one INFO line) and the client then
// upgrades the socket to TLS, so the agent reads that line, starts TLS without verifying, takes
// the certificate chain the server sends and keeps the CA whose SPKI hash is the pin. Nothing
// is sent to the server: it never sees a CONNECT, let alone a credential.
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type DetailedPeerCertificate } from 'node:tls';
import { pickPinnedCa, type PinnedCa } from './ca-pin.ts';
import { CaDiscoveryError } from './errors.ts';

/** An INFO line is a few hundred bytes; more before a newline is not NATS. */
const MAX_INFO_BYTES = 64 * 1024;
const DEFAULT_PORT = 4222;

export interface ServerAddress {
  host: string;
  port: number;
  /** As given, for messages. */
  url: string;
}

/** Host and port of a `nats://` or `tls://` URL; WebSocket URLs cannot be discovered this way. */
export function serverAddress(url: string): ServerAddress {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new CaDiscoveryError(`${url}: not a URL`);
  }
  if (u.protocol !== 'nats:' && u.protocol !== 'tls:') throw new CaDiscoveryError(`${u.protocol}//${u.host}: CA discovery needs a nats:// or tls:// server URL`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port ? Number(u.port) : DEFAULT_PORT, url: `${u.protocol}//${u.host}` };
}

/** The certificates of a peer chain, leaf first, each once (a self-signed root points at itself). */
export function chainOf(leaf: DetailedPeerCertificate): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (let c: DetailedPeerCertificate | undefined = leaf; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(new Uint8Array(c.raw));
  }
  return out;
}

/** Reads the INFO line; resolves with its JSON once the line is complete. */
function readInfo(socket: Socket, where: string): Promise<{ tls_required?: boolean; tls_available?: boolean }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n');
      if (end < 0) {
        if (buf.length > MAX_INFO_BYTES) fail(new CaDiscoveryError(`${where}: no INFO line in the first ${MAX_INFO_BYTES} bytes; not a NATS server`));
        return;
      }
      socket.off('data', onData);
      socket.off('error', fail);
      socket.pause();
      const line = buf.subarray(0, end).toString('utf8');
      if (!line.startsWith('INFO ')) return reject(new CaDiscoveryError(`${where}: the server did not greet with INFO; not a NATS server`));
      try {
        resolve(JSON.parse(line.slice(5)) as { tls_required?: boolean; tls_available?: boolean });
      } catch {
        reject(new CaDiscoveryError(`${where}: INFO is not JSON`));
      }
    };
    const fail = (err: Error) => {
      socket.off('data', onData);
      reject(err instanceof CaDiscoveryError ? err : new CaDiscoveryError(`${where}: ${err.message}`, { cause: err }));
    };
    socket.on('data', onData);
    socket.once('error', fail);
  });
}

/** The certificate chain a NATS server presents, DER, leaf first. */
export async function fetchServerChain(url: string, timeoutMs = 10_000): Promise<Uint8Array[]> {
  const addr = serverAddress(url);
  const socket = tcpConnect({ host: addr.host, port: addr.port });
  const timer = setTimeout(() => socket.destroy(new CaDiscoveryError(`${addr.url}: no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
  try {
    const info = await readInfo(socket, addr.url);
    if (!info.tls_required && !info.tls_available) throw new CaDiscoveryError(`${addr.url}: the server offers no TLS, so there is no certificate to check the pin against`);
    return await new Promise<Uint8Array[]>((resolve, reject) => {
      // Unverified on purpose: the pin, not a CA store, decides. Nothing is written to this socket.
      const tls = tlsConnect({ socket, rejectUnauthorized: false, ...(isIP(addr.host) ? {} : { servername: addr.host }) });
      tls.once('secureConnect', () => {
        const chain = chainOf(tls.getPeerCertificate(true));
        tls.destroy();
        resolve(chain);
      });
      tls.once('error', (err) => reject(new CaDiscoveryError(`${addr.url}: TLS handshake failed: ${err.message}`, { cause: err })));
      // Settles nothing after a handshake; before one it means the timer or the server hung up.
      tls.once('close', () => reject(new CaDiscoveryError(`${addr.url}: connection closed before the TLS handshake completed`)));
    });
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/** The pinned CA from the first server that answers; a mismatch is final, an unreachable server is not. */
export async function discoverPinnedCa(urls: readonly string[], pin: string, timeoutMs?: number): Promise<PinnedCa> {
  let last: unknown;
  for (const url of urls) {
    let chain: Uint8Array[];
    try {
      chain = await fetchServerChain(url, timeoutMs);
    } catch (err) {
      last = err;
      continue;
    }
    return pickPinnedCa(serverAddress(url).url, chain, pin);
  }
  throw last instanceof CaDiscoveryError ? last : new CaDiscoveryError(`no NATS server answered: ${(last as Error | undefined)?.message ?? 'no server URL'}`, { cause: last });
}
