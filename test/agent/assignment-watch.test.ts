// The agent's assignment watch against a real KV bucket, with the node's own credential: an
// entry is recognised by its revision and issue time, so after JetStream lost its data and the
// bucket was rebuilt (revisions counting from 1 again) the new document is applied even when
// its revision equals the one applied before, and the document already applied from disk is
// not applied twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { encode, stores, Assignment, type Assignment as AssignmentDoc } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { watchAssignment, type AssignmentWatch } from '../../agent/src/fleet/assignment-watch.ts';
import { assignmentDoc, testLogger, until } from './helpers.ts';

const NODE = 'edge-watch-1';
const doc = (deployment: string, issuedAtMs: number): AssignmentDoc => assignmentDoc(NODE, deployment, issuedAtMs);

describe('assignment watch', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let node: NatsConnection;
  let kv: KV;
  let watch: AssignmentWatch | undefined;
  const createBucket = () => new Kvm(cp).create(stores.assignments, { history: 1, allow_direct: true });

  beforeAll(async () => {
    nats = await startNats();
    cp = await connect(await nats.connectOptions('control-plane'));
    node = await connect(await nats.connectOptions({ node: NODE }));
    kv = await createBucket();
  });

  afterAll(async () => {
    await watch?.stop();
    await node?.close();
    await cp?.close();
    await nats?.stop();
  });

  it("applies a rebuilt bucket's document that reuses the applied revision, and skips the one from disk", async () => {
    const first = doc('a', 1_000);
    const revision = await kv.put(NODE, encode(Assignment, 'assignment', first));
    const applied: { deployment: string; revision: number }[] = [];
    // As after a restart: the document at this revision was applied from disk already.
    watch = watchAssignment({
      nc: node,
      node: NODE,
      bucket: stores.assignments,
      log: testLogger(),
      initialRevision: revision,
      initialIssuedAtMs: first.issuedAtMs,
      resyncMs: 200,
      retry: { initialMs: 50, maxMs: 200 },
      onAssignment: async (a, rev) => void applied.push({ deployment: a.workloads[0]?.deployment ?? '', revision: rev }),
    });
    // Several resyncs read the same entry: nothing applied.
    await new Promise((r) => setTimeout(r, 700));
    expect(applied).toEqual([]);

    // JetStream's data lost: the bucket is created again and the control plane rewrites it.
    await (await jetstreamManager(cp)).streams.delete(`KV_${stores.assignments}`);
    kv = await createBucket();
    const again = await kv.put(NODE, encode(Assignment, 'assignment', doc('b', 2_000)));
    expect(again).toBe(revision);
    await until(() => applied.length > 0, 'the rebuilt entry applied', 10_000);
    expect(applied).toEqual([{ deployment: 'b', revision }]);
  });
});
