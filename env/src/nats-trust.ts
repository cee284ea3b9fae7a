// Trust for a local nats-server: a fresh operator, accounts, CA and server certificate per
// server (or given material, so `make up` can keep its across restarts), and credentials for
// whoever the environment starts: administrators, the control plane, inference clients, and
// nodes that are already enrolled.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, encodeUser, fmtCreds } from '@nats-io/jwt';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import {
  inboxPrefix,
  issueClientCreds,
  issueNodeJwt,
  issuePrivilegedCreds,
  keyPair,
  nodeCreds,
  publicKey,
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
  | { node: string; /** `serve:<ns>.<deployment>` tags. */ tags?: string[]; ttlS?: number }
  /** A site's leaf node: its uplink to the hub binds to the fleet account as this user. */
  | { leaf: string };

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

const identityName = (who: NatsIdentity) => (typeof who === 'string' ? who : 'leaf' in who ? `leaf-${who.leaf}` : `node-${who.node}`);

/** Credentials file text for an identity; a node gets a fresh key, as enrolment would give it. */
export async function credsFor(trust: TrustMaterial, who: NatsIdentity): Promise<string> {
  if (who === 'admin' || who === 'control-plane') return issuePrivilegedCreds(trust, who);
  if (who === 'client') return issueClientCreds(trust, 'client');
  if (who === 'system') return systemUserCreds(trust);
  if ('leaf' in who) {
    // Every right in the fleet account, signed like the control plane's user: the link carries
    // the whole site's traffic, while each agent behind the leaf is still held to its own node
    // credential by the leaf server, which enforces the same operator and accounts.
    const kp = createUser();
    const jwt = await encodeUser(`leaf-${who.leaf}`, kp, publicKey(trust.fleet), {}, { signer: keyPair(trust.fleetSigning) });
    return new TextDecoder().decode(fmtCreds(jwt, kp));
  }
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
    ...(typeof who === 'object' && 'node' in who ? { inboxPrefix: inboxPrefix.node(who.node) } : {}),
  };
}
