// Invariant: a nats-server that holds a fleet account JWT signed from an older node role
// template (a `nats-trust.conf` written before the node role could publish escalation requests)
// is pushed the current JWT by the control plane's revocation pass, keeping the revocations it
// held, so a node with the escalate grant is allowed what the current template allows.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { connect, credsAuthenticator, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import type { EdgeNode } from '@edgeplane/api';
import { subjects } from '@edgeplane/api';
import { credsFor, startNats, type NatsServer } from '@edgeplane/env';
import { escalateTag, fleetAccountJwt, inboxPrefix, keyPair, serveTag } from '@edgeplane/trust';
import { FleetAccountClaims } from '../../control-plane/src/fleet/account-claims.ts';
import { Revoker } from '../../control-plane/src/fleet/revoker.ts';
import { kubeClients, loadKubeConfig } from '../../control-plane/src/kube/client.ts';
import { ResourceInformer } from '../../control-plane/src/kube/informers.ts';
import { nodesKind } from '../../control-plane/src/kube/resources.ts';
import { createMetrics } from '../../control-plane/src/metrics.ts';
import { runId } from '../helpers/control-plane.ts';
import { waitFor } from '../helpers/agent.ts';

const ESCALATE = 'ep.v1.infer.{{tag(escalate)}}';

let nats: NatsServer;
let system: NatsConnection;
let tier: NatsConnection;
let informer: ResourceInformer<EdgeNode>;
let revoker: Revoker | undefined;
const open: NatsConnection[] = [];
const logs: { level: number; msg: string; differs?: string[]; reason?: string }[] = [];

/** The fleet account JWT as an older configuration had it: the node role without the escalate subject. */
async function olderAccountJwt(revocations: Record<string, number>): Promise<string> {
  const trust = nats.trust!;
  const current = await fleetAccountJwt(trust, revocations);
  const claims = JSON.parse(Buffer.from(current.split('.')[1]!, 'base64url').toString()) as {
    iat: number;
    nats: { signing_keys: (string | { role: string; template: { pub: { allow: string[] } } })[] };
  };
  const node = claims.nats.signing_keys.find((k) => typeof k === 'object' && k.role === 'node');
  if (typeof node !== 'object') throw new Error('no node role in the fleet account JWT');
  expect(node.template.pub.allow).toContain(ESCALATE);
  node.template.pub.allow = node.template.pub.allow.filter((s) => s !== ESCALATE);
  // Signed as `edgeplane certs` signs it (operator signing key), a second later than the preload.
  claims.iat += 1;
  const head = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const sig = Buffer.from(keyPair(trust.operatorSigning).sign(new TextEncoder().encode(`${head}.${body}`))).toString('base64url');
  return `${head}.${body}.${sig}`;
}

/**
 * A node's connection; `reconnecting` as an agent's: nats-server closes the connections of users
 * a scoped signing key signed when its template changes, and they come back with the new rights.
 */
async function nodeConnection(node: string, tags: string[], reconnecting = false): Promise<NatsConnection> {
  const nc = await connect({
    ...(await nats.connectOptions({ node, tags })),
    name: node,
    ...(reconnecting ? { maxReconnectAttempts: -1, reconnectTimeWait: 100 } : { reconnect: false }),
  });
  open.push(nc);
  return nc;
}

/** An escalation request from a node with the escalate grant: the tier's answer, or why not. */
async function escalate(nc: NatsConnection): Promise<string> {
  return nc.request(subjects.infer('ns', 'big'), 'hard input', { timeout: 1000 }).then(
    (reply) => reply.string(),
    (err: Error) => err.message,
  );
}

/** As an agent that connects after the push does. */
async function escalateFresh(): Promise<string> {
  const nc = await nodeConnection('gw-e', [escalateTag('ns', 'big'), serveTag('ns', 'ocr')]);
  try {
    return await escalate(nc);
  } finally {
    await nc.close();
  }
}

const REFUSED = /Permissions Violation for Publish to "ep.v1.infer.ns.big"/;

beforeAll(async () => {
  nats = await startNats();
  system = await connect(await nats.connectOptions('system'));
  // The escalation tier, answering whatever reaches it.
  tier = await nodeConnection('dc-1', [serveTag('ns', 'big')], true);
  tier.subscribe(subjects.infer('ns', 'big'), { queue: subjects.inferQueue('ns', 'big'), callback: (_e: Error | null, m: Msg) => void m.respond('big answered') });
  await tier.flush();
  // An EdgeNode informer as the control plane runs it, over a run with no nodes.
  const kc = loadKubeConfig({ source: 'file', path: inject('kube').kubeconfigPath });
  const run = runId('account-template');
  informer = new ResourceInformer<EdgeNode>({ kc, custom: kubeClients(kc).custom, kind: nodesKind, labelSelector: `edgeplane.io/test-run=${run}`, log: pino({ level: 'silent' }) });
  await informer.start();
}, 60_000);

afterAll(async () => {
  await revoker?.stop();
  await informer?.stop();
  await Promise.all(open.map((nc) => nc.close().catch(() => {})));
  await system?.close();
  await nats?.stop();
});

it('a server holding an older node role template is pushed the current one, revocations kept', async () => {
  const trust = nats.trust!;
  const claims = new FleetAccountClaims({ trust, system });
  // A revoked node credential, in the older JWT's revocations.
  const revokedCreds = await credsFor(trust, { node: 'gw-r' });
  const revokedJwt = revokedCreds.split('\n').find((l) => l.startsWith('eyJ'))!;
  const revokedKey = (JSON.parse(Buffer.from(revokedJwt.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub;
  const revokedAt = Math.floor(Date.now() / 1000) + 1;

  const update = await system.request('$SYS.REQ.CLAIMS.UPDATE', await olderAccountJwt({ [revokedKey]: revokedAt }), { timeout: 5000 });
  expect(update.json<{ data?: { code?: number } }>().data?.code).toBe(200);
  expect(await claims.current()).toEqual({ revocations: { [revokedKey]: revokedAt }, drift: ['node role permissions'] });
  // The older template: a node with the escalate grant is refused the escalation subject.
  expect(await escalateFresh()).toMatch(REFUSED);
  // A node already connected when the template changes.
  const early = await nodeConnection('gw-early', [escalateTag('ns', 'big')], true);
  expect(await escalate(early)).toMatch(REFUSED);

  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as (typeof logs)[number]);
      done();
    },
  });
  const metrics = createMetrics();
  revoker = new Revoker({ nodes: informer, claims, metrics, log: pino({ level: 'info' }, sink), resyncMs: 1000 });
  const started = Date.now();
  revoker.start();

  let last = '';
  await waitFor('the escalation request answered', async () => (last = await escalateFresh()) === 'big answered', 10_000, 200).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${last}; logs: ${JSON.stringify(logs)}`);
  });
  expect(Date.now() - started).toBeLessThan(5000);
  expect(await claims.current()).toEqual({ revocations: { [revokedKey]: revokedAt }, drift: [] });
  // The node that was connected already, once it has reconnected.
  await waitFor('the connected node allowed too', async () => (await escalate(early)) === 'big answered', 5000, 100);
  // The revocation still holds.
  const withRevoked = await connect({
    servers: nats.url,
    tls: { ca: trust.ca.certPem },
    authenticator: credsAuthenticator(new TextEncoder().encode(revokedCreds)),
    inboxPrefix: inboxPrefix.node('gw-r'),
    reconnect: false,
  }).then(
    (nc) => nc.close().then(() => 'accepted'),
    (err: Error) => err.message,
  );
  expect(withRevoked).toMatch(/Authorization Violation/);

  // Later passes find nothing to do: one push, the reason logged once.
  await new Promise((r) => setTimeout(r, 2500));
  await revoker.idle();
  const drifted = logs.filter((l) => l.differs);
  expect(drifted).toHaveLength(1);
  expect(drifted[0]).toMatchObject({ level: 30, differs: ['node role permissions'] });
  expect(drifted[0]!.reason).toMatch(/node role permissions/);
  expect((await metrics.revocationPushes.get()).values.find((v) => v.labels.outcome === 'pushed')?.value).toBe(1);
});
