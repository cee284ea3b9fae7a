// How the control plane reaches NATS: TLS verified against the configured CA and its own
// credentials, unless the explicit insecure setting says otherwise.
import { readFile } from 'node:fs/promises';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';

async function readSetting(setting: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(setting, `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}

export async function natsSecurityOptions(config: Config): Promise<Pick<ConnectionOptions, 'tls' | 'authenticator'>> {
  const out: Pick<ConnectionOptions, 'tls' | 'authenticator'> = {};
  if (config.natsCreds) {
    out.authenticator = credsAuthenticator(new TextEncoder().encode(await readSetting('EP_NATS_CREDS (--nats-creds)', config.natsCreds)));
  }
  if (config.natsCa) out.tls = { ca: await readSetting('EP_NATS_CA (--nats-ca)', config.natsCa) };
  return out;
}
