// Trust for a local nats-server: a fresh operator, accounts, CA and server certificate per
// server (or given material, so `make up` can keep its across restarts), and credentials for
// whoever the environment starts: administrators, the control plane, inference clients, and
// nodes that are already enrolled.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/jwt';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import {
  inboxPrefix,
  issueClientCreds,
  issueNodeJwt,
  issuePrivilegedCreds,
  nodeCreds,
  serverTrustConfig,
  systemUserCreds,
  type TrustMaterial,
} from '@edgeplane/trust';
import { createCa, issueServerCert } from '@edgeplane/trust/certs';
import { createTrustMaterial } from '@edgeplane/trust';

/** Who a connection or credentials file is for. */
export type NatsIdentity =
  | 'admin'
  | 'control-plane'
  | 'client'
  | 'system'
  | { node: string; /** `serve:<ns>.<deployment>` tags. */ tags?: string[]; ttlS?: number };

export interface NatsTrustFiles {
  trust: TrustMaterial;
  caFile: string;
  caPem: string;
  /** Configuration fragment for nats-server. */
  config: string;
}

export async function prepareNatsTrust(dir: string, given?: TrustMaterial): Promise<NatsTrustFiles> {
  const trust = given ?? createTrustMaterial(await createCa('edgeplane local CA'));
  const server = await issueServerCert(trust.ca, { commonName: 'nats', dnsNames: ['localhost'], ips: ['127.0.0.1', '::1'] });
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  writeFileSync(caFile, trust.ca.certPem);
  writeFileSync(certFile, server.certPem);
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
  const config = await serverTrustConfig(trust, { resolverDir: join(dir, 'accounts'), tls: { certFile, keyFile } });
  return { trust, caFile, caPem: trust.ca.certPem, config };
}

const identityName = (who: NatsIdentity) => (typeof who === 'string' ? who : `node-${who.node}`);

/** Credentials file text for an identity; a node gets a fresh key, as enrolment would give it. */
export async function credsFor(trust: TrustMaterial, who: NatsIdentity): Promise<string> {
  if (who === 'admin' || who === 'control-plane') return issuePrivilegedCreds(trust, who);
  if (who === 'client') return issueClientCreds(trust, 'client');
  if (who === 'system') return systemUserCreds(trust);
  const kp = createUser();
  const jwt = await issueNodeJwt(trust, { node: who.node, userPublicKey: kp.getPublicKey(), tags: who.tags ?? [], ttlS: who.ttlS ?? 24 * 3600 });
  return nodeCreds(jwt, new TextDecoder().decode(kp.getSeed()));
}

export async function writeCredsFile(dir: string, trust: TrustMaterial, who: NatsIdentity): Promise<string> {
  const file = join(dir, `${identityName(who)}-${Math.random().toString(36).slice(2, 8)}.creds`);
  writeFileSync(file, await credsFor(trust, who), { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

export async function trustedConnectOptions(files: NatsTrustFiles, servers: string, who: NatsIdentity): Promise<ConnectionOptions> {
  return {
    servers,
    tls: { ca: files.caPem },
    authenticator: credsAuthenticator(new TextEncoder().encode(await credsFor(files.trust, who))),
    ...(typeof who === 'object' ? { inboxPrefix: inboxPrefix.node(who.node) } : {}),
  };
}
