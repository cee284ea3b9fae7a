// Invariant: a node credential revoked at the hub is refused at a site's leaf node too, and a
// connection already made with it there is closed, once the leaf links the system account.
//
// A leaf server checks node credentials itself, against the account JWTs its own resolver
// holds. The control plane pushes a revocation to the hub (`$SYS.REQ.CLAIMS.UPDATE`), which a
// leaf linked only in the fleet account never hears: it keeps accepting the revoked credential
// until it restarts. A second remote, bound to the system account, carries the update to the
// leaf's resolver as to any hub server's (and its resolver's periodic sync after a cut).
//
// Two leaves of our own on the same hub, one of each kind, both with the credentials
// `edgeplane creds leaf` issues; the system link is scoped to account updates (a server ping
// from the hub does not reach it). The environment's leaf links both accounts too. The revocation is pushed as the control plane pushes it
// (FleetAccountClaims).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, createInbox, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { credsFor, freePort, goBinary, startNatsCluster, startProcess, startToxiproxy, type NatsCluster, type ServerProcess, type ToxiproxyServer } from '@edgeplane/env';
import { issueLeafCreds, serverTrustConfig } from '@edgeplane/trust';
import { issueServerCert } from '@edgeplane/trust/certs';
import { FleetAccountClaims } from '../../control-plane/src/fleet/account-claims.ts';
import { waitFor } from '../helpers/agent.ts';

let toxiproxy: ToxiproxyServer;
let cluster: NatsCluster;
let leaf: ServerProcess;
let leafUrl: string;
/** A leaf linked only in the fleet account: what the system link is measured against. */
let fleetOnly: ServerProcess;
let fleetOnlyUrl: string;
const dir = mkdtempSync(join(tmpdir(), 'ep-leaf-revocation-'));
const open: NatsConnection[] = [];
const q = (s: string) => JSON.stringify(s);

/** A leaf node for `site` with a remote to the hub's fleet account and, with `systemLink`, one to its system account. */
async function startLeaf(site: string, systemLink: boolean): Promise<{ proc: ServerProcess; url: string }> {
  const leafDir = join(dir, site);
  mkdirSync(join(leafDir, 'accounts'), { recursive: true });
  const cert = await issueServerCert(cluster.trust.ca, { commonName: 'nats', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const certFile = join(leafDir, 'server.pem');
  const keyFile = join(leafDir, 'server-key.pem');
  writeFileSync(certFile, cert.certPem);
  writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
  const write = async (name: string, text: string) => {
    const file = join(leafDir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  // The credentials `edgeplane creds leaf` writes: the system link scoped to account updates.
  const leafCreds = await issueLeafCreds(cluster.trust, site, 3600);
  const fleetCreds = await write('leaf.creds', leafCreds.fleet);
  const systemCreds = await write('leaf-system.creds', leafCreds.system);
  // The uplink proxies lead to the hub servers' leafnode ports.
  const urls = `[${cluster.uplinks.map((u) => q(`tls://127.0.0.1:${u.port}`)).join(', ')}]`;
  const remote = (creds: string, account: string) => `{ urls: ${urls}, credentials: ${q(creds)}, account: ${q(account)}, tls: { ca_file: ${q(cluster.caFile)}, timeout: 5 } }`;
  const port = await freePort();
  const conf = [
    `server_name: "ep-leaf-${site}"`,
    `listen: "127.0.0.1:${port}"`,
    'leafnodes {',
    '  reconnect: 1',
    `  remotes: [${[remote(fleetCreds, leafCreds.fleetAccount), ...(systemLink ? [remote(systemCreds, leafCreds.systemAccount)] : [])].join(', ')}]`,
    '}',
    await serverTrustConfig(cluster.trust, { resolverDir: join(leafDir, 'accounts'), tls: { certFile, keyFile } }),
  ].join('\n');
  const confFile = await write('nats.conf', `${conf}\n`);
  return { proc: startProcess(`nats-leaf-${site}`, goBinary('nats-server'), ['-c', confFile], leafDir), url: `tls://127.0.0.1:${port}` };
}

/** A node's credentials, and the public key a revocation names. */
async function nodeCredential(node: string): Promise<{ creds: string; key: string }> {
  const creds = await credsFor(cluster.trust, { node });
  const jwt = creds.split('\n').find((l) => l.startsWith('eyJ'))!;
  const key = (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
  return { creds, key };
}

const connectAs = (url: string, creds: string) =>
  connect({ servers: url, tls: { ca: cluster.trust.ca.certPem }, authenticator: credsAuthenticator(new TextEncoder().encode(creds)), reconnect: false });

/** 'accepted' or the server's refusal. */
const tryConnect = (url: string, creds: string) =>
  connectAs(url, creds).then(
    async (nc) => {
      await nc.close();
      return 'accepted';
    },
    (err: Error) => err.message,
  );

beforeAll(async () => {
  toxiproxy = await startToxiproxy();
  cluster = await startNatsCluster({ site: 'site-a', toxiproxy });
  await cluster.waitForJetStream();
  await cluster.waitForLeaf();
  ({ proc: leaf, url: leafUrl } = await startLeaf('site-b', true));
  ({ proc: fleetOnly, url: fleetOnlyUrl } = await startLeaf('site-c', false));
  // Both leaves linked: a node credential is accepted at each.
  const probe = await nodeCredential('probe');
  await waitFor('the leaf with a system link accepting node credentials', async () => (await tryConnect(leafUrl, probe.creds)) === 'accepted', 20_000, 200);
  await waitFor('the fleet-only leaf accepting node credentials', async () => (await tryConnect(fleetOnlyUrl, probe.creds)) === 'accepted', 20_000, 200);
}, 90_000);

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => {})));
  await leaf?.stop();
  await fleetOnly?.stop();
  await cluster?.stop();
  await toxiproxy?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('a revocation pushed to the hub reaches a leaf linked in the system account, not one linked only in the fleet account', async () => {
  const { creds, key } = await nodeCredential('n1');
  const atHub = await connectAs(cluster.servers[0]!.url, creds);
  const atLeaf = await connectAs(leafUrl, creds);
  open.push(atHub, atLeaf);
  const closed = new Map<string, string>();
  void atHub.closed().then((err) => closed.set('hub', err?.message ?? 'closed'));
  void atLeaf.closed().then((err) => closed.set('leaf', err?.message ?? 'closed'));

  const system = await connect(await cluster.hub.connectOptions('system'));
  open.push(system);
  // As the control plane revokes: credentials issued up to this second are refused.
  const revokedAt = Date.now();
  await new FleetAccountClaims({ trust: cluster.trust, system }).push({ [key]: Math.floor(Date.now() / 1000) + 1 });

  await waitFor('both connections closed', () => closed.size === 2, 10_000, 50);
  const closedMs = Date.now() - revokedAt;
  expect(Object.fromEntries(closed)).toEqual({ hub: 'User Authentication Revoked', leaf: 'User Authentication Revoked' });
  expect(await tryConnect(cluster.servers[0]!.url, creds)).toMatch(/Authorization Violation/);
  expect(await tryConnect(leafUrl, creds)).toMatch(/Authorization Violation/);
  // The environment's leaf links the system account too; a leaf linked only in the fleet
  // account never hears of the revocation.
  expect(await tryConnect(cluster.leaf!.url, creds)).toMatch(/Authorization Violation/);
  expect(await tryConnect(fleetOnlyUrl, creds)).toBe('accepted');
  // The system link is scoped to account updates: a server ping from the hub, which every
  // server linked in the system account answers, is not carried to this leaf.
  const inbox = createInbox();
  const answered: string[] = [];
  const sub = system.subscribe(inbox, { callback: (_err, msg) => void answered.push((msg.json() as { server?: { name?: string } }).server?.name ?? '?') });
  system.publish('$SYS.REQ.SERVER.PING', '', { reply: inbox });
  await new Promise((r) => setTimeout(r, 1000));
  sub.unsubscribe();
  expect(answered.sort()).toEqual(['ep-hub-0', 'ep-hub-1', 'ep-hub-2']);
  console.info(`[security] revocation closed the node's connections at the hub and at the system-linked leaf within ${closedMs} ms`);
});
