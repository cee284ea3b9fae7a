// `edgeplane certs`: the fleet's trust material (every seed and the CA, one JSON file for the
// control plane's --trust-file), and what the servers and operators need from it: the CA, a
// server certificate for nats-server, its trust configuration, control-plane and admin
// credentials, and the CA pin agents check (--ca-hash).
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { caHash, createTrustMaterial, issuePrivilegedCreds, serverTrustConfig, type TrustMaterial } from '@edgeplane/trust';
import { createCa, issueServerCert } from '@edgeplane/trust/certs';
import { IdentityError } from './errors.ts';

export const CERT_FILES = {
  trust: 'trust.json',
  ca: 'ca.pem',
  serverCert: 'nats-server.pem',
  serverKey: 'nats-server-key.pem',
  serverConfig: 'nats-trust.conf',
  controlPlaneCreds: 'control-plane.creds',
  adminCreds: 'admin.creds',
} as const;

/** Files that hold a secret: readable by their owner only. */
const PRIVATE: ReadonlySet<string> = new Set([CERT_FILES.trust, CERT_FILES.serverKey, CERT_FILES.controlPlaneCreds, CERT_FILES.adminCreds]);

export interface CertsOptions {
  out: string;
  /** DNS names and IP addresses clients reach nats-server by. */
  natsHosts: string[];
  /** Where nats-server keeps the account JWTs pushed to it (revocations); default <out>/accounts. */
  resolverDir?: string;
  /** Reuse this material (a new server certificate and credentials, same keys and CA). */
  existing?: TrustMaterial;
  force?: boolean;
}

export interface CertsResult {
  trust: TrustMaterial;
  caHash: string;
  files: Record<keyof typeof CERT_FILES, string>;
}

export async function writeCerts(o: CertsOptions): Promise<CertsResult> {
  if (o.natsHosts.length === 0) throw new IdentityError('BAD_ARGUMENT', 'at least one --nats-host is needed for the server certificate');
  const out = resolve(o.out);
  const files = Object.fromEntries(Object.entries(CERT_FILES).map(([k, f]) => [k, join(out, f)])) as CertsResult['files'];
  if (!o.force && !o.existing && existsSync(files.trust)) {
    throw new IdentityError('OUTPUT_EXISTS', `${files.trust} exists: new material would invalidate every credential and the CA pin; pass --force to replace it, or --trust-file to reuse it`);
  }
  const trust = o.existing ?? createTrustMaterial(await createCa('edgeplane fleet CA'));
  const server = await issueServerCert(trust.ca, {
    commonName: o.natsHosts[0]!,
    dnsNames: o.natsHosts.filter((h) => isIP(h) === 0),
    ips: o.natsHosts.filter((h) => isIP(h) !== 0),
  });
  const resolverDir = resolve(o.resolverDir ?? join(out, 'accounts'));
  mkdirSync(out, { recursive: true, mode: 0o700 });
  if (!o.resolverDir) mkdirSync(resolverDir, { recursive: true, mode: 0o700 });
  const contents: Record<keyof typeof CERT_FILES, string> = {
    trust: `${JSON.stringify(trust, null, 2)}\n`,
    ca: trust.ca.certPem,
    serverCert: server.certPem,
    serverKey: server.keyPem,
    serverConfig: await serverTrustConfig(trust, { resolverDir, tls: { certFile: files.serverCert, keyFile: files.serverKey } }),
    controlPlaneCreds: await issuePrivilegedCreds(trust, 'control-plane'),
    adminCreds: await issuePrivilegedCreds(trust, 'admin'),
  };
  for (const key of Object.keys(CERT_FILES) as (keyof typeof CERT_FILES)[]) {
    const mode = PRIVATE.has(CERT_FILES[key]) ? 0o600 : 0o644;
    writeFileSync(files[key], contents[key], { mode });
    // An existing file keeps its old mode through writeFileSync.
    chmodSync(files[key], mode);
  }
  return { trust, caHash: caHash(trust.ca.certPem), files };
}
