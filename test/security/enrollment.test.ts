// Enrolment, renewal and revocation of node credentials against a real nats-server (operator
// JWT auth, full resolver, TLS) and a real kube-apiserver, with the control plane leading. The
// enrolling agent is played with nats.js directly, as the agent does it: bootstrap user, its own
// inbox prefix, a fresh nkey and a proof over it.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, credsAuthenticator, jwtAuthenticator, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  EN_PLURAL,
  EnrollReply,
  EnrollRequest,
  GROUP,
  NODE_IDENTITY_ANNOTATIONS,
  RenewReply,
  RenewRequest,
  VERSION,
  bootstrapSecretName,
  decode,
  encode,
  enrollProofText,
  parseJoinToken,
  stores,
  subjects,
  type Assignment,
} from '@edgeplane/api';
import { inboxPrefix, newUserKey, nodeCreds, publicKey, readUserJwt, revocationsOfAccountJwt, signStatement, systemUserCreds, type TrustMaterial } from '@edgeplane/trust';
import { ensureNamespace, kubeConfig, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { waitFor } from '../helpers/agent.ts';
import { runId, testConfig, waitReady } from '../helpers/control-plane.ts';
import { startControlPlane, type ControlPlane } from '../../control-plane/src/index.ts';
import type { Config } from '../../control-plane/src/config.ts';
import { main as cli } from '../../cli/src/main.ts';
import { createToken } from '../../cli/src/identity/tokens.ts';

const run = runId('enrol');
const kube = inject('kube');
const kc = kubeConfig(kube);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const dir = mkdtempSync(join(tmpdir(), 'ep-enrol-'));
let nats: NatsServer;
let redis: RedisServer;
let trust: TrustMaterial;
let trustFile: string;
let config: Config;
let cp: ControlPlane;
let admin: NatsConnection;
let kv: KV;
let caPem: string;
const opened: NatsConnection[] = [];
const enc = new TextEncoder();

/** Runs the edgeplane command in-process; stdout and stderr as text. */
async function edgeplane(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await cli(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

async function newToken(o: { maxUses?: number; nodeNamePattern?: string; ttlMs?: number; nowMs?: number; allowReenrollment?: boolean } = {}): Promise<string> {
  return (await createToken(core, run, trust, { ttlMs: o.ttlMs ?? 3_600_000, ...o })).joinToken;
}

/** Connects as the bootstrap user of a join token, with its inbox prefix. */
async function bootstrapConnection(joinToken: string): Promise<NatsConnection> {
  const jt = parseJoinToken(joinToken)!;
  const nc = await connect({ servers: nats.url, tls: { ca: caPem }, authenticator: jwtAuthenticator(jt.jwt), inboxPrefix: inboxPrefix.enroll(jt.tokenId), reconnect: false });
  opened.push(nc);
  return nc;
}

interface Enrolled {
  reply: EnrollReply;
  seed: string;
  publicKey: string;
}

/**
 * What an agent does to enrol. `token` overrides the `<id>.<secret>` sent (the connection still
 * uses the join token's bootstrap user).
 */
async function enrol(joinToken: string, node: string, o: { token?: string; key?: { seed: string; publicKey: string } } = {}): Promise<Enrolled> {
  const jt = parseJoinToken(joinToken)!;
  const token = o.token ?? jt.token;
  const key = o.key ?? newUserKey();
  const nc = await bootstrapConnection(joinToken);
  try {
    const request = encode(EnrollRequest, 'enrol request', {
      v: 1,
      token,
      node,
      publicKey: key.publicKey,
      proof: signStatement(key.seed, enrollProofText(node, token.split('.')[0]!, key.publicKey)),
    });
    const msg = await nc.request(subjects.enroll, request, { timeout: 10_000 });
    const reply = decode(EnrollReply, 'enrol reply', msg.data);
    if (!reply.ok) throw reply.error;
    return { reply: reply.value, ...key };
  } finally {
    await nc.close();
  }
}

/** Connects as an enrolled node, as the agent does with the creds it wrote. */
async function nodeConnection(node: string, e: Enrolled, o: { reconnect?: boolean } = {}): Promise<NatsConnection> {
  if (!e.reply.accepted) throw new Error(`not enrolled: ${e.reply.reason}`);
  const nc = await connect({
    servers: nats.url,
    tls: { ca: caPem },
    authenticator: credsAuthenticator(enc.encode(nodeCreds(e.reply.jwt, e.seed))),
    inboxPrefix: inboxPrefix.node(node),
    name: node,
    ...(o.reconnect === false ? { reconnect: false } : { reconnectTimeWait: 200, maxReconnectAttempts: 20 }),
  });
  opened.push(nc);
  return nc;
}

async function edgeNode(name: string): Promise<{ metadata: { annotations?: Record<string, string> }; spec?: { unschedulable?: boolean } } | null> {
  try {
    return (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name })) as never;
  } catch {
    return null;
  }
}

async function tokenUses(joinToken: string): Promise<string> {
  const s = await core.readNamespacedSecret({ name: bootstrapSecretName(parseJoinToken(joinToken)!.tokenId), namespace: run });
  return Buffer.from(s.data?.uses ?? '', 'base64').toString();
}

async function counter(name: 'enrollments' | 'renewals', outcome: string): Promise<number> {
  return (await cp.metrics[name].get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** The fleet account's revocations as nats-server holds them. */
async function serverRevocations(): Promise<Record<string, number>> {
  const sys = await connect({ servers: nats.url, tls: { ca: caPem }, authenticator: credsAuthenticator(enc.encode(await systemUserCreds(trust))) });
  try {
    const msg = await sys.request(`$SYS.REQ.ACCOUNT.${publicKey(trust.fleet)}.CLAIMS.LOOKUP`, '', { timeout: 5000 });
    return revocationsOfAccountJwt(msg.string(), publicKey(trust.fleet)) ?? {};
  } finally {
    await sys.close();
  }
}

function assignmentFor(node: string, namespace: string, deployment: string): Assignment {
  return {
    v: 1,
    node,
    issuedAtMs: Date.now(),
    workloads: [
      {
        key: `${namespace}/${deployment}`,
        namespace,
        deployment,
        model: 'm',
        task: 'text-direction-classification',
        variant: { name: 'v', precision: 'int8', profile: 'full', uri: 'nats-obj://ep-models/v.onnx', sha256: 'a'.repeat(64), sizeBytes: 1, memoryMiB: 1 },
        accelerator: 'cpu0',
        maxBatch: 1,
        maxQueueDelayMs: 0,
        latencySloMs: 50,
      },
    ],
  };
}

interface Ending {
  /** When the server first dropped the connection (ms since the epoch). */
  disconnected: Promise<number>;
  /** The error the client closed with once its reconnects were refused; 'timeout' after 15 s. */
  closed: Promise<Error | null | 'timeout'>;
}

function watchEnding(nc: NatsConnection): Ending {
  const disconnected = (async () => {
    for await (const s of nc.status()) if (s.type === 'disconnect') return Date.now();
    return Date.now();
  })();
  const closed = Promise.race([nc.closed().then((err) => err ?? null), new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 15_000))]);
  return { disconnected, closed };
}

/** Dropped within 5 s, then closed for good with an authorization error (its reconnects refused). */
async function expectCutOff(ending: Ending, since: number): Promise<void> {
  const err = await ending.closed;
  expect(err === 'timeout' ? 'still connected after 15 s' : err?.name).toBe('AuthorizationError');
  expect((await ending.disconnected) - since).toBeLessThan(5000);
}

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  trust = nats.trust!;
  caPem = trust.ca.certPem;
  trustFile = join(dir, 'trust.json');
  writeFileSync(trustFile, JSON.stringify(trust), { mode: 0o600 });
  chmodSync(trustFile, 0o600);
  await ensureNamespace(kc, run);
  config = testConfig({
    natsUrl: nats.url,
    redisUrl: redis.url,
    kubeconfigPath: kube.kubeconfigPath,
    run,
    natsCreds: await nats.credsFile('control-plane'),
    natsCa: nats.caFile!,
    insecureNats: false,
    trustFile,
    bootstrapNamespace: run,
    nodeCredentialTtlMs: 3_600_000,
  });
  cp = await startControlPlane(config);
  await waitReady(cp.address);
  await waitFor('leadership', () => cp.isLeader());
  admin = await connect(await nats.connectOptions('admin'));
  kv = await new Kvm(admin).open(stores.assignments);
});

afterAll(async () => {
  for (const nc of opened) await nc.close().catch(() => {});
  await admin?.close();
  await cp?.stop();
  // EdgeNodes are cluster-scoped: leave none behind for the other suites.
  const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL })) as { items: { metadata: { name: string } }[] };
  for (const n of list.items.filter((i) => i.metadata.name.startsWith(run))) {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name: n.metadata.name }).catch(() => {});
  }
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('enrolment with a bootstrap token', () => {
  const gw1 = `${run}-gw-1`;
  let join: string;
  let enrolled: Enrolled;

  it('edgeplane token create writes the Secret and prints a join token and the agent command line', async () => {
    const r = await edgeplane('token', 'create', '--trust-file', trustFile, '--namespace', run, '--kubeconfig', kube.kubeconfigPath, '--max-uses', '2', '--node-pattern', `${run}-gw-*`, '--ttl', '1h');
    expect(r.code, r.err).toBe(0);
    join = r.out.trim();
    const jt = parseJoinToken(join);
    expect(jt).not.toBeNull();
    expect(r.err).toMatch(/--ca-hash sha256:[0-9a-f]{64}/);
    expect(r.err).not.toContain(jt!.secret);
    // The bootstrap JWT expires with the token, so nats-server itself refuses it afterwards.
    const claims = readUserJwt(jt!.jwt)!;
    expect(Math.abs(claims.expiresAtS! - (Date.now() / 1000 + 3600))).toBeLessThan(10);
    expect(await tokenUses(join)).toBe('0');
    const listed = await edgeplane('token', 'list', '--namespace', run, '--kubeconfig', kube.kubeconfigPath);
    expect(listed.out).toMatch(new RegExp(`${jt!.tokenId}\\s+\\S+\\s+0/2\\s+${run}-gw-\\*\\s+usable`));
    expect(listed.out).not.toContain(jt!.secret);
  });

  it('enrols a node: EdgeNode created with its key, one use counted, a JWT for that key', async () => {
    enrolled = await enrol(join, gw1);
    expect(enrolled.reply).toMatchObject({ accepted: true });
    const node = await edgeNode(gw1);
    expect(node?.metadata.annotations?.[NODE_IDENTITY_ANNOTATIONS.nkey]).toBe(enrolled.publicKey);
    expect(node?.metadata.annotations?.[NODE_IDENTITY_ANNOTATIONS.enrolledBy]).toBe(parseJoinToken(join)!.tokenId);
    expect(await tokenUses(join)).toBe('1');
    const claims = readUserJwt(enrolled.reply.accepted ? enrolled.reply.jwt : '')!;
    expect({ name: claims.name, subject: claims.subject, tags: claims.tags }).toEqual({ name: gw1, subject: enrolled.publicKey, tags: [] });
    expect(Math.abs(claims.expiresAtS! - (Date.now() / 1000 + 3600))).toBeLessThan(10);
    expect(await counter('enrollments', 'accepted')).toBe(1);
  });

  it('the credential works: the node publishes its own status and reads its own assignment', async () => {
    await kv.put(gw1, JSON.stringify({ v: 1, node: gw1, workloads: [], issuedAtMs: Date.now() } satisfies Assignment));
    const nc = await nodeConnection(gw1, enrolled);
    const got: string[] = [];
    const sub = admin.subscribe(subjects.status(gw1), { callback: (_e: Error | null, m: Msg) => void got.push(m.string()) });
    await admin.flush();
    nc.publish(subjects.status(gw1), '{"v":1,"seq":1}');
    await nc.flush();
    await waitFor('status delivered', () => got.length === 1, 5000, 20);
    sub.unsubscribe();
    const own = await new Kvm(nc).open(stores.assignments, { allow_direct: true });
    expect((await own.get(gw1))?.json<{ node: string }>().node).toBe(gw1);
    await nc.close();
  });

  it('a lost reply retried with the same key is answered again without counting another use', async () => {
    const again = await enrol(join, gw1, { key: { seed: enrolled.seed, publicKey: enrolled.publicKey } });
    expect(again.reply.accepted).toBe(true);
    expect(await tokenUses(join)).toBe('1');
  });

  it('renews: the new JWT carries a serve tag for each deployment the KV assignment names', async () => {
    await kv.put(gw1, JSON.stringify(assignmentFor(gw1, 'warehouse', 'ocr-line')));
    const nc = await nodeConnection(gw1, enrolled);
    const ask = async (key: string) => {
      const msg = await nc.request(subjects.renew(gw1), encode(RenewRequest, 'renew', { v: 1, node: gw1, publicKey: key }), { timeout: 10_000 });
      const d = decode(RenewReply, 'renew reply', msg.data);
      if (!d.ok) throw d.error;
      return d.value;
    };
    const renewed = await ask(enrolled.publicKey);
    expect(renewed.accepted).toBe(true);
    expect(readUserJwt(renewed.accepted ? renewed.jwt : '')?.tags).toEqual(['serve:warehouse.ocr-line']);
    // With the renewed credential the node may take that deployment's inference requests.
    const served = await nodeConnection(gw1, { ...enrolled, reply: renewed });
    served.subscribe(subjects.infer('warehouse', 'ocr-line'), { queue: subjects.inferQueue('warehouse', 'ocr-line'), callback: (_e: Error | null, m: Msg) => void m.respond('ok') });
    await served.flush();
    const answer = await admin.request(subjects.infer('warehouse', 'ocr-line'), 'x', { timeout: 5000 });
    expect(answer.string()).toBe('ok');
    await served.close();
    // Another key than the one the EdgeNode records is refused.
    expect(await ask(newUserKey().publicKey)).toMatchObject({ accepted: false, reason: 'KEY_MISMATCH' });
    await nc.close();
    expect(await counter('renewals', 'accepted')).toBe(1);
    expect(await counter('renewals', 'key_mismatch')).toBe(1);
  });

  it('refuses a used-up token, an expired one, a wrong secret and a name outside the pattern; no EdgeNode appears', async () => {
    const second = await enrol(join, `${run}-gw-2`);
    expect(second.reply.accepted).toBe(true);
    expect(await tokenUses(join)).toBe('2');
    const refusals: Record<string, EnrollReply> = {};
    refusals.usedUp = (await enrol(join, `${run}-gw-3`)).reply;

    const fresh = await newToken({ nodeNamePattern: `${run}-gw-*` });
    const jt = parseJoinToken(fresh)!;
    refusals.wrongSecret = (await enrol(fresh, `${run}-gw-4`, { token: `${jt.tokenId}.${'x'.repeat(16)}` })).reply;
    refusals.outsidePattern = (await enrol(fresh, `${run}-cam-1`)).reply;
    // A token whose Secret expired, sent through a bootstrap user still valid.
    const expired = parseJoinToken(await newToken({ nowMs: Date.now() - 7_200_000, ttlMs: 3_600_000 }))!;
    refusals.expired = (await enrol(fresh, `${run}-gw-5`, { token: expired.token })).reply;
    expect(refusals).toEqual({
      usedUp: { v: 1, accepted: false, reason: 'TOKEN_INVALID' },
      wrongSecret: { v: 1, accepted: false, reason: 'TOKEN_INVALID' },
      outsidePattern: { v: 1, accepted: false, reason: 'NODE_NOT_ALLOWED' },
      expired: { v: 1, accepted: false, reason: 'TOKEN_INVALID' },
    });
    for (const name of ['gw-3', 'gw-4', 'cam-1', 'gw-5']) expect(await edgeNode(`${run}-${name}`)).toBeNull();
    expect(await tokenUses(fresh)).toBe('0');
    expect(await counter('enrollments', 'token_invalid')).toBe(3);
    expect(await counter('enrollments', 'node_not_allowed')).toBe(1);
  });

  it('nats-server itself refuses the bootstrap user of an expired token', async () => {
    const expired = await newToken({ nowMs: Date.now() - 7_200_000, ttlMs: 3_600_000 });
    await expect(bootstrapConnection(expired)).rejects.toThrow(/authorization violation|authentication expired/i);
  });

  it('a key already enrolled under that name is refused unless the token allows re-enrolment', async () => {
    const other = await enrol(await newToken(), gw1);
    expect(other.reply).toEqual({ v: 1, accepted: false, reason: 'NODE_KEY_CONFLICT' });
    expect((await edgeNode(gw1))?.metadata.annotations?.[NODE_IDENTITY_ANNOTATIONS.nkey]).toBe(enrolled.publicKey);
  });
});

describe('the bootstrap user', () => {
  it('may publish nothing but an enrolment request, and read no inbox but its own', async () => {
    const join = await newToken();
    const jt = parseJoinToken(join)!;
    const nc = await bootstrapConnection(join);
    const violations: string[] = [];
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error.name === 'PermissionViolationError') {
          const e = s.error as Error & { operation?: string; subject?: string };
          violations.push(`${e.operation} ${e.subject}`);
        }
      }
    })();
    const node = `${run}-gw-1`;
    const attempts: ({ publish: string } | { subscribe: string })[] = [
      { publish: subjects.status(node) },
      { publish: subjects.hello(node) },
      { publish: subjects.renew(node) },
      { publish: 'ep.cp.v1.node-changed' },
      { publish: `$KV.${stores.assignments}.${node}` },
      { subscribe: `_INBOX.enroll.zzzzzz.>` },
      { subscribe: `_INBOX.node.${node}.>` },
      { subscribe: '_INBOX.>' },
      { subscribe: subjects.enroll },
      { subscribe: subjects.allStatus },
    ];
    for (const a of attempts) {
      if ('publish' in a) nc.publish(a.publish, '{}');
      else nc.subscribe(a.subscribe);
    }
    await nc.flush();
    await waitFor('every attempt refused', () => violations.length >= attempts.length, 5000, 20);
    expect(violations.sort()).toEqual(attempts.map((a) => ('publish' in a ? `publish ${a.publish}` : `subscription ${a.subscribe}`)).sort());
    // Its own inbox still works: the enrolment request is answered there.
    const reply = decode(EnrollReply, 'enrol reply', (await nc.request(subjects.enroll, '{"v":1}', { timeout: 5000 })).data);
    expect(reply.ok && reply.value).toEqual({ v: 1, accepted: false, reason: 'MALFORMED' });
    expect(jt.tokenId).toMatch(/^[a-z0-9]{6}$/);
  });
});

describe('revocation', () => {
  it('edgeplane node revoke disconnects the node within seconds, and its credential is refused from then on', async () => {
    const node = `${run}-gw-7`;
    const e = await enrol(await newToken(), node);
    const nc = await nodeConnection(node, e);
    const ending = watchEnding(nc);
    const started = Date.now();
    const r = await edgeplane('node', 'revoke', node, '--kubeconfig', kube.kubeconfigPath);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(e.publicKey);
    await expectCutOff(ending, started);
    await expect(nodeConnection(node, e, { reconnect: false })).rejects.toThrow(/authorization violation/i);
    expect((await serverRevocations())[e.publicKey]).toBeGreaterThan(0);
    expect((await edgeNode(node))?.spec?.unschedulable).toBe(true);
    // A revoked node is neither re-enrolled nor renewed.
    expect((await enrol(await newToken(), node, { key: { seed: e.seed, publicKey: e.publicKey } })).reply).toMatchObject({ accepted: false, reason: 'NODE_REVOKED' });
  });

  it('deleting the EdgeNode disconnects the node and its credential is refused', async () => {
    const node = `${run}-gw-8`;
    const e = await enrol(await newToken(), node);
    const nc = await nodeConnection(node, e);
    const ending = watchEnding(nc);
    const started = Date.now();
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: EN_PLURAL, name: node });
    await expectCutOff(ending, started);
    await expect(nodeConnection(node, e, { reconnect: false })).rejects.toThrow(/authorization violation/i);
  });

  it('a node marked revoked while no control plane ran is revoked when the next leader starts', async () => {
    const node = `${run}-gw-9`;
    const e = await enrol(await newToken(), node);
    const nc = await nodeConnection(node, e);
    const ending = watchEnding(nc);
    await cp.stop();
    expect((await edgeplane('node', 'revoke', node, '--kubeconfig', kube.kubeconfigPath)).code).toBe(0);
    // Still connected: nothing revoked it yet.
    await new Promise((r) => setTimeout(r, 500));
    expect(nc.isClosed()).toBe(false);
    cp = await startControlPlane({ ...config, identity: `${config.identity}-2` });
    await waitFor('new leader', () => cp.isLeader(), 15_000);
    await expectCutOff(ending, Date.now());
    await expect(nodeConnection(node, e, { reconnect: false })).rejects.toThrow(/authorization violation/i);
    // The earlier revocations are still held: the new leader merged, not replaced.
    const revoked = await serverRevocations();
    expect(Object.keys(revoked).length).toBeGreaterThanOrEqual(3);
  });
});
