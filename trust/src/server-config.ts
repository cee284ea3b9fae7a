// nats-server configuration for the fleet's trust: operator mode with a full resolver (so the
// control plane can push account updates such as revocations), and TLS.
import { accountNames, clientsAccountJwt, fleetAccountJwt, operatorJwt, systemAccountJwt } from './accounts.ts';
import { publicKey, type TrustMaterial } from './material.ts';

export interface ServerTrustFiles {
  /** Directory where the resolver keeps account JWTs it was sent. */
  resolverDir: string;
  tls?: { certFile: string; keyFile: string };
}

const q = (s: string) => JSON.stringify(s);

/** A configuration fragment to include in nats-server's file. */
export async function serverTrustConfig(t: TrustMaterial, f: ServerTrustFiles): Promise<string> {
  const lines = [
    `operator: ${q(await operatorJwt(t))}`,
    `system_account: ${q(publicKey(t.system))}`,
    `resolver: { type: full, dir: ${q(f.resolverDir)}, allow_delete: false, interval: "2m", timeout: "5s" }`,
    'resolver_preload: {',
    `  # ${accountNames.system}`,
    `  ${publicKey(t.system)}: ${q(await systemAccountJwt(t))}`,
    `  # ${accountNames.fleet}`,
    `  ${publicKey(t.fleet)}: ${q(await fleetAccountJwt(t))}`,
    `  # ${accountNames.clients}`,
    `  ${publicKey(t.clients)}: ${q(await clientsAccountJwt(t))}`,
    '}',
  ];
  if (f.tls) lines.push(`tls: { cert_file: ${q(f.tls.certFile)}, key_file: ${q(f.tls.keyFile)}, timeout: 5 }`);
  return `${lines.join('\n')}\n`;
}
