// How the edgeplane command reaches NATS: a credentials file (user JWT + nkey seed) and the CA
// of the server's certificate, read once before connecting. Without a CA, a tls:// server is
// verified against the system's CAs; without credentials, the server must allow anonymous users.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';

export interface NatsAccess {
  /** Credentials file (`--nats-creds`). */
  creds?: string | undefined;
  /** CA certificate, PEM (`--nats-ca`). */
  ca?: string | undefined;
  /** The server URLs (`--nats-url`), comma-separated: an address among them is checked against the certificate's IP names. */
  servers?: string | undefined;
}

/** Thrown when a file named by a flag cannot be read; names the flag, never the file's content. */
export class NatsAccessError extends Error {
  override readonly name = 'NatsAccessError';
  readonly code = 'NATS_ACCESS';
  readonly flag: string;

  constructor(flag: string, message: string, options?: { cause?: unknown }) {
    super(`${flag}: ${message}`, options);
    this.flag = flag;
  }
}

async function read(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new NatsAccessError(flag, `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}

/** IP literals among comma-separated server URLs (`tls://10.0.0.51:4222`, `[fd00::1]:4222`). */
export function serverAddresses(servers: string): string[] {
  const out: string[] = [];
  for (const s of servers.split(',').map((x) => x.trim()).filter(Boolean)) {
    try {
      const host = new URL(s.includes('://') ? s : `nats://${s}`).hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host)) out.push(host);
    } catch {
      // not a URL: connect() reports it
    }
  }
  return out;
}

/**
 * A TLS identity check that accepts a certificate naming one of the given addresses. nats.js
 * gives Node no server name for a server reached by IP address, and Node then checks the
 * certificate against `localhost`: a server whose certificate names its address (a Kubernetes
 * Service's ClusterIP) would be refused. Host names are checked as usual.
 */
export function addressIdentityCheck(addresses: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const asNamed = checkServerIdentity(host, cert);
    if (!asNamed) return undefined;
    return addresses.some((ip) => checkServerIdentity(ip, cert) === undefined) ? undefined : asNamed;
  };
}

/** The authenticator and TLS options for `connect()`, from the files the flags name. */
export async function natsSecurity(access: NatsAccess): Promise<Pick<ConnectionOptions, 'authenticator' | 'tls'>> {
  const out: Pick<ConnectionOptions, 'authenticator' | 'tls'> = {};
  if (access.creds) out.authenticator = credsAuthenticator(new TextEncoder().encode(await read('--nats-creds', access.creds)));
  if (access.ca) out.tls = { ca: await read('--nats-ca', access.ca) };
  const addresses = access.servers ? serverAddresses(access.servers) : [];
  // The Node transport hands its TLS options to tls.connect(), beyond the fields nats.js types.
  if (out.tls && addresses.length) Object.assign(out.tls, { checkServerIdentity: addressIdentityCheck(addresses) });
  return out;
}
