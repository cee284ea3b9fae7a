// Least privilege on the fleet bus, enforced by nats-server itself: two enrolled nodes, gw-a
// and gw-b, each with the credential the node role's scoped signing key gives it. Every attempt
// by gw-a to act as gw-b, to read what is not its own, or to write the model store is refused
// with a permissions violation, while gw-a's own flows keep working and gw-b's telemetry and
// assignment stay exactly as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { jetstream } from '@nats-io/jetstream';
import { subjects } from '@edgeplane/api';
import { escalateTag, serveTag } from '@edgeplane/trust';
import { startNats, type NatsServer } from '@edgeplane/env';
import { recordViolations, type Violation } from '@edgeplane/env';

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('node credentials on a real nats-server (operator JWT auth, TLS)', () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let a: NatsConnection;
  let aViolations: Violation[];
  let kv: KV;
  /** Everything that reaches the control plane's subjects for gw-b, as the control plane would see it. */
  const seenForB: string[] = [];
  const B_ASSIGNMENT = JSON.stringify({ v: 1, node: 'gw-b', workloads: [], issuedAtMs: 1 });

  beforeAll(async () => {
    nats = await startNats();
    admin = await connect(await nats.connectOptions('admin'));
    kv = await new Kvm(admin).create('ep-assignments', { history: 1, allow_direct: true });
    await kv.put('gw-a', JSON.stringify({ v: 1, node: 'gw-a', workloads: [], issuedAtMs: 1 }));
    await kv.put('gw-b', B_ASSIGNMENT);
    const os = await new Objm(admin).create('ep-models', { storage: 'file' });
    await os.putBlob({ name: 'm/model.onnx' }, new Uint8Array(300_000).fill(7));
    admin.subscribe('ep.v1.node.gw-b.>', { callback: (_e: Error | null, m: Msg) => {
      seenForB.push(m.subject);
    } });
    // The control plane answers hello and probe for every node.
    admin.subscribe(subjects.allHello, { queue: subjects.ingestQueue, callback: (_e: Error | null, m: Msg) => {
      m.respond('{"v":1}');
    } });
    await admin.flush();
    a = await connect({ ...(await nats.connectOptions({ node: 'gw-a', tags: [serveTag('warehouse', 'ocr-line')] })), name: 'gw-a' });
    aViolations = recordViolations(a);
  });

  afterAll(async () => {
    await a?.close();
    await admin?.close();
    await nats?.stop();
  });

  /** Publishes as gw-a and expects the server to refuse it. */
  async function refusedPublish(subject: string): Promise<void> {
    const before = aViolations.length;
    a.publish(subject, '{"v":1,"seq":900000,"power":{"source":"battery","batteryPercent":3,"charging":false}}');
    await a.flush();
    await until(() => aViolations.length > before);
    expect(aViolations.slice(before)).toContainEqual({ operation: 'publish', subject });
  }

  /** Subscribes as gw-a (optionally in a queue group) and expects the server to refuse it. */
  async function refusedSubscribe(subject: string, queue?: string): Promise<void> {
    const before = aViolations.length;
    const sub = a.subscribe(subject, queue ? { queue } : {});
    await a.flush();
    await until(() => aViolations.length > before);
    expect(aViolations.slice(before).map((v) => [v.operation, v.subject])).toContainEqual(['subscription', subject]);
    sub.unsubscribe();
  }

  it('lets gw-a use its own subjects: hello answered, status and probe delivered, own key read', async () => {
    const reply = await a.request(subjects.hello('gw-a'), '{}', { timeout: 2000 });
    expect(reply.string()).toBe('{"v":1}');
    const got: string[] = [];
    const sub = admin.subscribe('ep.v1.node.gw-a.>', { callback: (_e: Error | null, m: Msg) => {
      got.push(m.subject);
    } });
    await admin.flush();
    a.publish(subjects.status('gw-a'), '{"v":1,"seq":1}');
    a.publish(subjects.probe('gw-a'), 'x');
    await a.flush();
    await until(() => got.length >= 2);
    sub.unsubscribe();
    expect(got).toEqual([subjects.status('gw-a'), subjects.probe('gw-a')]);
    const own = await new Kvm(a).open('ep-assignments', { allow_direct: true });
    expect((await own.get('gw-a'))?.json<{ node: string }>().node).toBe('gw-a');
  });

  it('lets gw-a read a model from the object store', async () => {
    const os = await new Objm(jetstream(a, { checkAPI: false })).open('ep-models');
    const data = await os.getBlob('m/model.onnx');
    expect(data?.length).toBe(300_000);
  });

  it('refuses gw-a publishing hello, status or probe as gw-b, and gw-b sees nothing', async () => {
    for (const subject of [subjects.hello('gw-b'), subjects.status('gw-b'), subjects.probe('gw-b')]) await refusedPublish(subject);
    await admin.flush();
    expect(seenForB).toEqual([]);
  });

  it('refuses gw-a reading, writing, deleting or watching gw-b assignment key; the value is unchanged', async () => {
    const store = await new Kvm(a).open('ep-assignments', { allow_direct: true });
    await expect(store.get('gw-b')).rejects.toThrow(/Permissions Violation/);
    await refusedPublish('$KV.ep-assignments.gw-b');
    await refusedPublish('$KV.ep-assignments.gw-a');
    await expect(store.put('gw-b', 'x')).rejects.toThrow(/Permissions Violation|timeout/i);
    await expect(store.delete('gw-b')).rejects.toThrow(/Permissions Violation|timeout/i);
    await refusedSubscribe('$KV.ep-assignments.gw-b');
    await refusedSubscribe('$KV.ep-assignments.>');
    await expect(store.watch({ key: 'gw-b' })).rejects.toThrow(/Permissions Violation/);
    expect((await kv.get('gw-b'))?.string()).toBe(B_ASSIGNMENT);
  });

  it('refuses writing or deleting in ep-models; the object is unchanged', async () => {
    const os = await new Objm(jetstream(a, { checkAPI: false })).open('ep-models');
    await expect(os.putBlob({ name: 'm/model.onnx' }, new Uint8Array(10))).rejects.toThrow(/Permissions Violation|timeout/i);
    await expect(os.delete('m/model.onnx')).rejects.toThrow(/Permissions Violation|timeout/i);
    await refusedPublish('$O.ep-models.M.bS9tb2RlbC5vbm54');
    await refusedPublish('$JS.API.STREAM.PURGE.OBJ_ep-models');
    await refusedPublish('$JS.API.STREAM.DELETE.OBJ_ep-models');
    const adminOs = await new Objm(admin).open('ep-models');
    expect((await adminOs.getBlob('m/model.onnx'))?.length).toBe(300_000);
  });

  it('refuses subscribing to every hello, every inference subject, another deployment, or gw-b inbox', async () => {
    await refusedSubscribe(subjects.allHello);
    await refusedSubscribe('ep.v1.node.>');
    await refusedSubscribe('ep.v1.infer.>');
    await refusedSubscribe(subjects.infer('warehouse', 'other-model'));
    await refusedSubscribe('_INBOX.node.gw-b.>');
    await refusedSubscribe('_INBOX.>');
    // The deployment gw-a is entitled to serve is the one it may take requests for.
    const before = aViolations.length;
    const served = a.subscribe(subjects.infer('warehouse', 'ocr-line'), { queue: subjects.inferQueue('warehouse', 'ocr-line') });
    await a.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(aViolations.slice(before)).toEqual([]);
    served.unsubscribe();
  });

  it('refuses joining the control plane queue group or publishing its internal subjects', async () => {
    await refusedSubscribe(subjects.allStatus, subjects.ingestQueue);
    await refusedPublish('ep.cp.v1.node-changed');
    await refusedSubscribe('ep.cp.v1.>');
  });

  it('refuses replying into gw-b inbox, so no one but the control plane can answer its hello', async () => {
    await refusedPublish('_INBOX.node.gw-b.forged');
  });

  it('refuses a client without credentials, and one that does not trust the CA', async () => {
    const ca = readFileSync(nats.caFile!, 'utf8');
    await expect(connect({ servers: nats.url, tls: { ca }, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    await expect(connect({ servers: nats.url.replace('tls://', 'nats://'), reconnect: false, timeout: 3000 })).rejects.toThrow();
  });

  it('keeps gw-a connected through every refusal, and gw-b telemetry untouched', async () => {
    expect(a.isClosed()).toBe(false);
    await admin.flush();
    expect(seenForB).toEqual([]);
    expect((await kv.get('gw-b'))?.string()).toBe(B_ASSIGNMENT);
  });
});

describe('inference clients (their own account, importing only the inference service)', () => {
  let nats: NatsServer;
  let client: NatsConnection;
  let node: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    client = await connect(await nats.connectOptions('client'));
    node = await connect(await nats.connectOptions({ node: 'gw-a', tags: [serveTag('warehouse', 'ocr-line')] }));
    node.subscribe(subjects.infer('warehouse', 'ocr-line'), {
      queue: subjects.inferQueue('warehouse', 'ocr-line'),
      callback: (_e: Error | null, m: Msg) => {
        m.respond(`answered ${m.string()}`);
      },
    });
    await node.flush();
  });

  afterAll(async () => {
    await client?.close();
    await node?.close();
    await nats?.stop();
  });

  it('reach a served deployment and get its one reply', async () => {
    const reply = await client.request(subjects.infer('warehouse', 'ocr-line'), 'x', { timeout: 3000 });
    expect(reply.string()).toBe('answered x');
  });

  it('cannot publish a node subject or read the fleet (they are not in its account at all)', async () => {
    const errors: string[] = [];
    void (async () => {
      for await (const s of client.status()) if (s.type === 'error') errors.push((s.error as Error).message);
    })();
    client.publish(subjects.status('gw-a'), '{"v":1,"seq":1}');
    await client.flush();
    await until(() => errors.length > 0);
    expect(errors.join()).toMatch(/Permissions Violation for Publish to "ep.v1.node.gw-a.status"/);
  });
});

describe('the escalate grant (joint inference): requests to one tier, nothing more', () => {
  let nats: NatsServer;
  let big: NatsConnection;
  let edge: NatsConnection;
  let plain: NatsConnection;
  let edgeViolations: Violation[];
  let plainViolations: Violation[];
  /** Requests the escalation tier (and a neighbour deployment) received. */
  const received: string[] = [];

  beforeAll(async () => {
    nats = await startNats();
    // The escalation tier, served by a node entitled to it; another deployment beside it.
    big = await connect({ ...(await nats.connectOptions({ node: 'dc-1', tags: [serveTag('ns', 'big'), serveTag('ns', 'other')] })), name: 'dc-1' });
    for (const dep of ['big', 'other']) {
      big.subscribe(subjects.infer('ns', dep), {
        queue: subjects.inferQueue('ns', dep),
        callback: (_e: Error | null, m: Msg) => {
          received.push(`${dep}:${m.string()}`);
          m.respond(`${dep} answered ${m.string()}`);
        },
      });
    }
    await big.flush();
    edge = await connect({ ...(await nats.connectOptions({ node: 'gw-e', tags: [escalateTag('ns', 'big'), serveTag('ns', 'ocr')] })), name: 'gw-e' });
    edgeViolations = recordViolations(edge);
    plain = await connect({ ...(await nats.connectOptions({ node: 'gw-p', tags: [serveTag('ns', 'ocr')] })), name: 'gw-p' });
    plainViolations = recordViolations(plain);
  });

  afterAll(async () => {
    await edge?.close();
    await plain?.close();
    await big?.close();
    await nats?.stop();
  });

  async function refused(nc: NatsConnection, seen: Violation[], operation: 'publish' | 'subscription', subject: string): Promise<void> {
    const before = seen.length;
    const sub = operation === 'publish' ? undefined : nc.subscribe(subject);
    if (operation === 'publish') nc.publish(subject, 'hard input');
    await nc.flush();
    await until(() => seen.length > before);
    expect(seen.slice(before).map((v) => [v.operation, v.subject])).toContainEqual([operation, subject]);
    sub?.unsubscribe();
  }

  it('lets a node holding escalate:ns.big send a request to ns/big and get its answer', async () => {
    const reply = await edge.request(subjects.infer('ns', 'big'), 'hard input', { timeout: 3000 });
    expect(reply.string()).toBe('big answered hard input');
    expect(edgeViolations).toEqual([]);
  });

  it('refuses it any other inference subject, and serving ns/big', async () => {
    await refused(edge, edgeViolations, 'publish', subjects.infer('ns', 'other'));
    await refused(edge, edgeViolations, 'publish', 'ep.v1.infer.ns.>');
    await refused(edge, edgeViolations, 'subscription', subjects.infer('ns', 'big'));
    // What it serves is its to take, not to send to.
    await refused(edge, edgeViolations, 'publish', subjects.infer('ns', 'ocr'));
    await big.flush();
    expect(received.filter((r) => r.startsWith('other:'))).toEqual([]);
  });

  it('gives a node without an escalate tag no inference publish at all', async () => {
    for (const subject of [subjects.infer('ns', 'big'), subjects.infer('ns', 'ocr'), subjects.infer('ns', 'other')]) {
      await refused(plain, plainViolations, 'publish', subject);
    }
    await big.flush();
    expect(received).toEqual(['big:hard input']);
    expect(edge.isClosed() || plain.isClosed()).toBe(false);
  });
});
