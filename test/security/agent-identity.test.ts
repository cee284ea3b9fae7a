// The agent's own identity against a real nats-server in operator mode with TLS: it connects
// with its node credential, says hello, heartbeats, reads its assignment and downloads its model
// under the node role; it serves a deployment only once a renewed credential carries the
// deployment's grant; it renews before expiry and stays connected past the first credential's
// end; it enrols with a join token after checking the CA pin; it refuses a server whose CA is
// not the pinned one; and nobody but the control plane can put a reply into its inbox.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import {
  EnrollReply,
  EnrollRequest,
  Heartbeat,
  HelloReply,
  RenewRequest,
  decode,
  encode,
  enrollProofText,
  inferHeaders,
  nodeFromSubject,
  subjects,
  type Assignment,
} from '@edgeplane/api';
import { caHash, issueBootstrapJwt, issueNodeJwt, parseCredsFile, readUserJwt, serveTag, verifyStatement, type TrustMaterial } from '@edgeplane/trust';
import { createCa } from '@edgeplane/trust/certs';
import { startNats, type NatsServer } from '@edgeplane/env';
import { parseConfig, type AgentConfig } from '../../agent/src/config.ts';
import { startAgent, type RunningAgent } from '../../agent/src/main.ts';
import { createWorkloadManager, type WorkloadManagerImpl } from '../../agent/src/workloads/manager.ts';
import { serveNats } from '../../agent/src/serve/nats.ts';
import type { ServedModel } from '../../agent/src/serve/registry.ts';
import { NodeIdentity } from '../../agent/src/trust/identity.ts';
import { readCredentials } from '../../agent/src/trust/creds-store.ts';
import { enroll, enrollOnce } from '../../agent/src/trust/enroll.ts';
import { isEnrollUnavailableError } from '../../agent/src/trust/errors.ts';
import { parseJoinToken } from '../../agent/src/trust/join-token.ts';
import { createNodeKey } from '../../agent/src/trust/proof.ts';
import { tinyModel } from '../../agent/src/runtime/fixtures/tiny-models.ts';
import { CPU, sha256 } from '../../agent/src/workloads/fixtures/assignments.ts';
import { fixtureRoot, tempDir, until } from '../agent/helpers.ts';
import { recordViolations } from '@edgeplane/env';

const MODEL = tinyModel({ precision: 'fp32', tag: 'identity' });
const OBJECT = 'vision/tiny-fp32.onnx';

const assignmentFor = (node: string, deployments: string[]): Assignment => ({
  v: 1,
  node,
  issuedAtMs: Date.now(),
  workloads: deployments.map((deployment) => ({
    key: `vision/${deployment}`,
    namespace: 'vision',
    deployment,
    model: 'tiny',
    task: 'regression',
    variant: { name: 'fp32', precision: 'fp32', profile: 'full', uri: `nats-obj://ep-models/${OBJECT}`, sha256: sha256(MODEL.bytes), sizeBytes: MODEL.bytes.byteLength, memoryMiB: 1 },
    accelerator: 'cpu0',
    maxBatch: 1,
    maxQueueDelayMs: 0,
    latencySloMs: 1000,
  })),
});

/** What a stand-in control plane saw and answered, per node. */
interface ControlPlane {
  hellos: string[];
  heartbeats: Map<string, number>;
  probes: string[];
  renewals: string[];
  enrolments: { node: string; publicKey: string; proofOk: boolean }[];
  /** Enrolments to refuse first, per node (TOKEN_INVALID), as a leader would until an operator acts. */
  refuse: Map<string, number>;
}

/**
 * The control plane's side, played by an administrator connection: hello, heartbeats, probe,
 * and renew and enrol answered as the leader does (tags from the node's KV assignment).
 */
function standInControlPlane(admin: NatsConnection, kv: KV, trust: TrustMaterial, token: { id: string; secret: string }): ControlPlane {
  const cp: ControlPlane = { hellos: [], heartbeats: new Map(), probes: [], renewals: [], enrolments: [], refuse: new Map() };
  const tagsOf = async (node: string) => {
    const entry = await kv.get(node);
    if (!entry || entry.operation !== 'PUT') return [];
    return (entry.json<Assignment>().workloads ?? []).map((w) => serveTag(w.namespace, w.deployment));
  };
  admin.subscribe(subjects.allHello, {
    queue: subjects.ingestQueue,
    callback: (_e: Error | null, m: Msg) => {
      cp.hellos.push(nodeFromSubject(m.subject) ?? '?');
      m.respond(encode(HelloReply, 'hello reply', { v: 1, accepted: true, heartbeatIntervalMs: 200, fullEvery: 4 }));
    },
  });
  admin.subscribe(subjects.allStatus, {
    callback: (_e: Error | null, m: Msg) => {
      const node = nodeFromSubject(m.subject) ?? '?';
      if (decode(Heartbeat, 'heartbeat', m.data).ok) cp.heartbeats.set(node, (cp.heartbeats.get(node) ?? 0) + 1);
    },
  });
  admin.subscribe(subjects.allProbe, {
    callback: (_e: Error | null, m: Msg) => {
      cp.probes.push(nodeFromSubject(m.subject) ?? '?');
      m.respond(JSON.stringify({ bytes: m.data.length }));
    },
  });
  admin.subscribe(subjects.allRenew, {
    callback: (_e: Error | null, m: Msg) => {
      void (async () => {
        const node = nodeFromSubject(m.subject);
        const req = decode(RenewRequest, 'renew request', m.data);
        if (!node || !req.ok || req.value.node !== node) return m.respond(encode(EnrollReply, 'renew reply', { v: 1, accepted: false, reason: 'MALFORMED' }));
        cp.renewals.push(node);
        const jwt = await issueNodeJwt(trust, { node, userPublicKey: req.value.publicKey, tags: await tagsOf(node), ttlS: 3600 });
        m.respond(encode(EnrollReply, 'renew reply', { v: 1, accepted: true, jwt }));
      })();
    },
  });
  admin.subscribe(subjects.enroll, {
    callback: (_e: Error | null, m: Msg) => {
      void (async () => {
        const req = decode(EnrollRequest, 'enrol request', m.data);
        if (!req.ok) return m.respond(encode(EnrollReply, 'enrol reply', { v: 1, accepted: false, reason: 'MALFORMED' }));
        const { node, publicKey, proof } = req.value;
        const proofOk = verifyStatement(publicKey, enrollProofText(node, token.id, publicKey), proof);
        cp.enrolments.push({ node, publicKey, proofOk });
        const refusals = cp.refuse.get(node) ?? 0;
        if (refusals > 0) {
          cp.refuse.set(node, refusals - 1);
          return m.respond(encode(EnrollReply, 'enrol reply', { v: 1, accepted: false, reason: 'TOKEN_INVALID' }));
        }
        if (req.value.token !== `${token.id}.${token.secret}` || !proofOk) {
          return m.respond(encode(EnrollReply, 'enrol reply', { v: 1, accepted: false, reason: proofOk ? 'TOKEN_INVALID' : 'PROOF_INVALID' }));
        }
        const jwt = await issueNodeJwt(trust, { node, userPublicKey: publicKey, tags: await tagsOf(node), ttlS: 3600 });
        m.respond(encode(EnrollReply, 'enrol reply', { v: 1, accepted: true, jwt }));
      })();
    },
  });
  return cp;
}

/** Log lines the agent writes, kept to check that no secret is among them. */
function capturingLogger(): { log: Logger; text(): string } {
  const lines: string[] = [];
  const log = pino({ level: process.env.EP_TEST_LOG_LEVEL ?? 'debug' }, { write: (line: string) => void lines.push(line) });
  return { log, text: () => lines.join('') };
}

interface StartedAgent {
  agent: RunningAgent;
  manager: () => WorkloadManagerImpl | undefined;
}

/** The agent as its command runs it: configuration from flags, the real workload manager. */
async function runAgent(argv: string[], log: Logger): Promise<StartedAgent> {
  const parsed = parseConfig({ argv: [...argv, '--root', fixtureRoot('x86-vnni-server'), '--http-addr', '127.0.0.1:0', '--cache-max', '64MiB'] });
  if (parsed.kind !== 'run') throw new Error('expected a configuration');
  const config: AgentConfig = parsed.config;
  let manager: WorkloadManagerImpl | undefined;
  const agent = await startAgent(config, {
    log,
    createManager: async (o) => (manager = await createWorkloadManager({ ...o, accelerators: [CPU], isolation: 'inline' })),
    onNatsConnected: (nc) => manager?.attachNats(nc),
    session: { helloBackoff: { initialMs: 50, maxMs: 500 } },
  });
  return { agent, manager: () => manager };
}

async function infer(client: NatsConnection, deployment: string, row: number[]): Promise<{ status: string; values: number[]; node: string }> {
  const h = headers();
  h.set(inferHeaders.tensors, JSON.stringify([{ name: 'X', datatype: 'FP32', shape: [1, row.length] }]));
  const r = await client.request(subjects.infer('vision', deployment), new Uint8Array(new Float32Array(row).buffer), { headers: h, timeout: 5000 });
  return { status: r.headers?.get(inferHeaders.status) ?? '', node: r.headers?.get(inferHeaders.node) ?? '', values: Array.from(new Float32Array(new Uint8Array(r.data).buffer)) };
}

describe('agent identity on a real nats-server (operator JWT auth, TLS)', () => {
  let nats: NatsServer;
  let trust: TrustMaterial;
  let admin: NatsConnection;
  let client: NatsConnection;
  let kv: KV;
  let cp: ControlPlane;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const token = { id: 'abc123', secret: '0123456789abcdef' };
  const running: RunningAgent[] = [];
  let gwALog: ReturnType<typeof capturingLogger>;

  beforeAll(async () => {
    nats = await startNats();
    trust = nats.trust!;
    dir = await tempDir('ep-agent-identity-');
    admin = await connect(await nats.connectOptions('admin'));
    kv = await new Kvm(admin).create('ep-assignments', { history: 1, allow_direct: true });
    const os = await new Objm(admin).create('ep-models', { storage: 'file' });
    await os.putBlob({ name: OBJECT }, MODEL.bytes);
    cp = standInControlPlane(admin, kv, trust, token);
    await admin.flush();
    client = await connect(await nats.connectOptions('client'));
  });

  afterAll(async () => {
    for (const a of running) await a.stop().catch(() => undefined);
    await client?.close();
    await admin?.close();
    await nats?.stop();
    await dir?.remove();
  });

  const started = (s: StartedAgent) => {
    running.push(s.agent);
    return s;
  };

  it('with its node credential, says hello, heartbeats, probes its link, reads its assignment and downloads its model', async () => {
    gwALog = capturingLogger();
    const { log } = gwALog;
    const creds = await nats.credsFile({ node: 'gw-a' });
    const s = started(
      await runAgent(
        ['--node', 'gw-a', '--nats-url', nats.url, '--nats-creds', creds, '--nats-ca', nats.caFile!, '--state-dir', join(dir.path, 'gw-a'), '--cache-dir', join(dir.path, 'gw-a-cache'), '--link-probe-interval-ms', '3600000'],
        log,
      ),
    );
    const session = await s.agent.connected();
    await session.ready;
    await until(() => (cp.heartbeats.get('gw-a') ?? 0) >= 3, 'three heartbeats from gw-a');
    await until(() => cp.probes.includes('gw-a'), 'a link probe from gw-a');
    expect(s.agent.identity()?.tags).toEqual([]);

    await kv.put('gw-a', JSON.stringify(assignmentFor('gw-a', ['tiny'])));
    // Downloaded from the object store and loaded, under the node role.
    await until(() => s.manager()?.reports().find((r) => r.key === 'vision/tiny' && r.phase === 'Ready'), 'vision/tiny Ready', 30_000);
    expect(s.manager()?.cachedArtifacts()).toContain(sha256(MODEL.bytes));
  });

  it('serves the assigned deployment only after a renewal brings its grant, and keeps the renewed credential 0600', async () => {
    const agent = running[0]!;
    // The grant was missing: the agent asked for a renewal, reconnected, then subscribed.
    await until(() => agent.identity()?.tags.includes(serveTag('vision', 'tiny')), 'the serve grant in the credential', 30_000);
    expect(cp.renewals).toContain('gw-a');
    const reply = await until(async () => {
      try {
        return await infer(client, 'tiny', [1, 2, 0.5, -1]);
      } catch {
        return undefined;
      }
    }, 'an inference answered through the client account', 20_000);
    expect(reply).toEqual({ status: '200', node: 'gw-a', values: MODEL.expected([1, 2, 0.5, -1]) });
    // In that order, and the server never had to refuse a subscription.
    const lines = gwALog.text().split('\n').map((l) => (l ? (JSON.parse(l) as { msg: string; reason?: string }) : null));
    const renewed = lines.findIndex((l) => l?.msg.startsWith('credential renewed') && l.reason === 'serve vision/tiny');
    const serving = lines.findIndex((l) => l?.msg === 'serving over NATS');
    expect(renewed).toBeGreaterThanOrEqual(0);
    expect(serving).toBeGreaterThan(renewed);
    expect(gwALog.text()).not.toContain('refused by the server');

    const file = join(dir.path, 'gw-a', 'nats.creds');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const kept = parseCredsFile(await readFile(file, 'utf8'));
    expect(readUserJwt(kept!.jwt)?.tags).toEqual([serveTag('vision', 'tiny')]);
    // Same key as before: renewal never changes the node's key.
    expect(readUserJwt(kept!.jwt)?.subject).toBe(agent.identity()?.publicKey);
    // Hello and heartbeats went on after the reconnect.
    const beats = cp.heartbeats.get('gw-a') ?? 0;
    await until(() => (cp.heartbeats.get('gw-a') ?? 0) > beats + 2, 'heartbeats after the renewal');
    expect(agent.session()?.stats().helloRepliesRefused).toBe(0);
  });

  it('cannot be reached in its inbox by another node: a forged hello reply goes nowhere', async () => {
    const agent = running[0]!;
    const b = await connect(await nats.connectOptions({ node: 'gw-b' }));
    try {
      const seen = recordViolations(b);
      b.publish('_INBOX.node.gw-a.x', encode(HelloReply, 'hello reply', { v: 1, accepted: true, heartbeatIntervalMs: 100, fullEvery: 1 }));
      const sub = b.subscribe('_INBOX.node.gw-a.>');
      await b.flush();
      await until(() => seen.length >= 2, 'two permission violations');
      expect(seen).toContainEqual({ operation: 'publish', subject: '_INBOX.node.gw-a.x' });
      expect(seen).toContainEqual({ operation: 'subscription', subject: '_INBOX.node.gw-a.>' });
      sub.unsubscribe();
    } finally {
      await b.close();
    }
    expect(agent.session()?.stats().heartbeatIntervalMs).toBe(200);
  });

  it('restarts from its state dir: the kept credential, the CA fetched and checked against the pin, no enrolment', async () => {
    await running.shift()!.stop();
    const { log } = capturingLogger();
    const enrolmentsBefore = cp.enrolments.length;
    const renewalsBefore = cp.renewals.length;
    const s = started(
      await runAgent(
        [
          '--node', 'gw-a', '--nats-url', nats.url, '--ca-hash', caHash(trust.ca.certPem),
          // A token file that is gone: a node with a credential does not need it.
          '--bootstrap-token-file', join(dir.path, 'no-such-token'),
          '--state-dir', join(dir.path, 'gw-a'), '--cache-dir', join(dir.path, 'gw-a-cache'),
        ],
        log,
      ),
    );
    await (await s.agent.connected()).ready;
    expect(caHash(await readFile(join(dir.path, 'gw-a', 'ca.pem'), 'utf8'))).toBe(caHash(trust.ca.certPem));
    await until(() => s.manager()?.reports().find((r) => r.phase === 'Ready'), 'vision/tiny Ready again', 30_000);
    const reply = await until(async () => infer(client, 'tiny', [0, 1, 0, 1]).catch(() => undefined), 'an inference after the restart', 20_000);
    expect(reply.values).toEqual(MODEL.expected([0, 1, 0, 1]));
    // The kept credential already granted the deployment.
    expect(cp.enrolments.length).toBe(enrolmentsBefore);
    expect(cp.renewals.length).toBe(renewalsBefore);
  });

  it('renews before expiry and stays connected past the end of its first credential', async () => {
    const { log } = capturingLogger();
    const creds = await nats.credsFile({ node: 'gw-d', ttlS: 6 });
    const first = readUserJwt(parseCredsFile(await readFile(creds, 'utf8'))!.jwt)!;
    const s = started(
      await runAgent(['--node', 'gw-d', '--nats-url', nats.url, '--nats-creds', creds, '--nats-ca', nats.caFile!, '--state-dir', join(dir.path, 'gw-d'), '--cache-dir', join(dir.path, 'gw-d-cache')], log),
    );
    await (await s.agent.connected()).ready;
    // Two thirds of 6 s: about 4 s after issue.
    await until(() => (s.agent.identity()?.stats().renewals ?? 0) >= 1, 'a renewal before expiry', 15_000);
    expect(s.agent.identity()?.stats().expiresAtS).toBeGreaterThan(first.expiresAtS! + 60);
    await until(() => Date.now() > first.expiresAtS! * 1000 + 2000, 'the first credential expired', 15_000);
    const beats = cp.heartbeats.get('gw-d') ?? 0;
    await until(() => (cp.heartbeats.get('gw-d') ?? 0) > beats + 2, 'heartbeats after the first credential expired');
    expect((await readCredentials(join(dir.path, 'gw-d', 'nats.creds')))?.claims.expiresAtS).toBe(s.agent.identity()?.stats().expiresAtS);
  });

  it('enrols with a join token after checking the CA pin, keeps the credential 0600 and logs no secret', async () => {
    const { log, text } = capturingLogger();
    const bootstrapJwt = await issueBootstrapJwt(trust, token.id, Math.floor(Date.now() / 1000) + 600);
    const joinToken = `${token.id}.${token.secret}::${bootstrapJwt}`;
    const state = join(dir.path, 'gw-e');
    const s = started(
      await runAgent(['--node', 'gw-e', '--nats-url', nats.url, '--bootstrap-token', joinToken, '--ca-hash', caHash(trust.ca.certPem), '--state-dir', state, '--cache-dir', join(dir.path, 'gw-e-cache')], log),
    );
    await (await s.agent.connected()).ready;
    expect(cp.enrolments.find((e) => e.node === 'gw-e')).toMatchObject({ proofOk: true, publicKey: s.agent.identity()?.publicKey });
    expect((await stat(join(state, 'nats.creds'))).mode & 0o777).toBe(0o600);
    expect(caHash(await readFile(join(state, 'ca.pem'), 'utf8'))).toBe(caHash(trust.ca.certPem));
    await until(() => (cp.heartbeats.get('gw-e') ?? 0) >= 2, 'heartbeats from the enrolled node');
    const kept = parseCredsFile(await readFile(join(state, 'nats.creds'), 'utf8'))!;
    const logs = text();
    expect(logs).toContain('enrolled');
    for (const secret of [token.secret, bootstrapJwt, kept.seed, kept.jwt]) expect(logs).not.toContain(secret);
  });

  it('keeps asking after a refusal, with backoff, logging the refusal code', async () => {
    cp.refuse.set('gw-r', 2);
    const { log, text } = capturingLogger();
    const join = parseJoinToken(`${token.id}.${token.secret}::${await issueBootstrapJwt(trust, token.id, Math.floor(Date.now() / 1000) + 600)}`);
    const key = createNodeKey();
    const issued = await enroll({ servers: [nats.url], caPem: trust.ca.certPem, node: 'gw-r', join, key, log, refusedBackoff: { initialMs: 50, maxMs: 100 } });
    expect(issued?.claims).toMatchObject({ name: 'gw-r', subject: key.publicKey });
    expect(cp.enrolments.filter((e) => e.node === 'gw-r')).toHaveLength(3);
    expect(text()).toContain('TOKEN_INVALID');
    expect(text()).not.toContain(token.secret);
  });

  it('cannot even connect with an expired bootstrap token: a typed, retryable error', async () => {
    const join = parseJoinToken(`${token.id}.${token.secret}::${await issueBootstrapJwt(trust, token.id, Math.floor(Date.now() / 1000) - 5)}`);
    const err = await enrollOnce({ servers: [nats.url], caPem: trust.ca.certPem, node: 'gw-x', join, key: createNodeKey(), log: pino({ level: 'silent' }), timeoutMs: 3000 }).catch((e: unknown) => e);
    expect(isEnrollUnavailableError(err)).toBe(true);
    expect((err as Error).message).toMatch(/refused the bootstrap token/);
    expect(cp.enrolments.filter((e) => e.node === 'gw-x')).toEqual([]);
  });

  it('refuses to connect to a server whose CA is not the pinned one, naming both hashes', async () => {
    const { log } = capturingLogger();
    const wrong = caHash((await createCa('not the fleet CA')).certPem);
    const creds = await nats.credsFile({ node: 'gw-f' });
    const s = started(await runAgent(['--node', 'gw-f', '--nats-url', nats.url, '--nats-creds', creds, '--ca-hash', wrong, '--state-dir', join(dir.path, 'gw-f'), '--cache-dir', join(dir.path, 'gw-f-cache')], log));
    const err = await s.agent.failed;
    expect(err.code).toBe('CA_PIN_MISMATCH');
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(caHash(trust.ca.certPem));
    expect(s.agent.session()).toBeNull();
    await admin.flush();
    expect(cp.hellos).not.toContain('gw-f');
    await expect(stat(join(dir.path, 'gw-f', 'ca.pem'))).rejects.toThrow();
  });

  it('counts and logs a subscription the server refuses, and subscribes after the next renewal', async () => {
    await kv.put('gw-c', JSON.stringify(assignmentFor('gw-c', ['echo'])));
    const c = parseCredsFile(await readFile(await nats.credsFile({ node: 'gw-c' }), 'utf8'))!;
    const identity = new NodeIdentity({ node: 'gw-c', stateDir: join(dir.path, 'gw-c'), log: pino({ level: 'silent' }), credentials: { ...c, claims: readUserJwt(c.jwt)! } });
    const opts = await nats.connectOptions({ node: 'gw-c' });
    const nc = await connect({ ...opts, authenticator: identity.authenticator(), inboxPrefix: '_INBOX.node.gw-c' });
    identity.attach(nc);
    const model: ServedModel = {
      key: 'vision/echo',
      assignment: assignmentFor('gw-c', ['echo']).workloads[0]!,
      phase: 'Ready',
      ready: true,
      inputs: [],
      outputs: [],
      infer: async (t) => [...t],
    };
    const logged = capturingLogger();
    // A grant check that wrongly says yes: the server is the one that decides.
    const serving = serveNats(nc, model, { node: 'gw-c', maxPayloadBytes: 1 << 20, logger: logged.log, grant: { ensure: async () => true, onRenewed: (cb) => identity.onRenewed(cb) } });
    try {
      await until(() => serving.stats.denied === 1, 'the refused subscription counted');
      expect(serving.stats.subscribed).toBe(false);
      expect(logged.text()).toContain(subjects.infer('vision', 'echo'));
      expect(nc.isClosed()).toBe(false);
      expect(await identity.renew('test')).toBe(true);
      await until(() => serving.stats.subscribed, 'subscribed after the renewal');
      const reply = await until(async () => infer(client, 'echo', [3, 4]).catch(() => undefined), 'a request to the re-subscribed deployment');
      expect(reply).toMatchObject({ status: '200', node: 'gw-c', values: [3, 4] });
      expect(serving.stats.denied).toBe(1);
    } finally {
      await serving.stop();
      identity.close();
      await nc.close();
    }
  });
});
