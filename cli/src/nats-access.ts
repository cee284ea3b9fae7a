// How the edgeplane command reaches NATS: a credentials file (user JWT + nkey seed) and the CA
// of the server's certificate, read once before connecting. Without a CA, a tls:// server is
// verified against the system's CAs; without credentials, the server must allow anonymous users.
import { readFile } from 'node:fs/promises';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';

export interface NatsAccess {
  /** Credentials file (`--nats-creds`). */
  creds?: string | undefined;
  /** CA certificate, PEM (`--nats-ca`). */
  ca?: string | undefined;
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

/** The authenticator and TLS options for `connect()`, from the files the flags name. */
export async function natsSecurity(access: NatsAccess): Promise<Pick<ConnectionOptions, 'authenticator' | 'tls'>> {
  const out: Pick<ConnectionOptions, 'authenticator' | 'tls'> = {};
  if (access.creds) out.authenticator = credsAuthenticator(new TextEncoder().encode(await read('--nats-creds', access.creds)));
  if (access.ca) out.tls = { ca: await read('--nats-ca', access.ca) };
  return out;
}
