// The agent's assignment watch against a real KV bucket, with the node's own credential: a
// document written under an older leader term than one already applied is ignored (a control
// plane that lost its Lease may still land a write), while documents without a term, from
// writers that predate terms, are applied as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { encode, stores, Assignment, type Assignment as AssignmentDoc } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { watchAssignment, type AssignmentWatch } from '../../agent/src/fleet/assignment-watch.ts';
import { assignmentDoc, testLogger, until } from './helpers.ts';

const NODE = 'edge-term-1';
const doc = (deployment: string, issuedAtMs: number, term?: number): AssignmentDoc => assignmentDoc(NODE, deployment, issuedAtMs, term);

describe('assignment watch and leader terms', () => {
  let nats: NatsServer;
  let cp: NatsConnection;
  let node: NatsConnection;
  let kv: KV;
  let watch: AssignmentWatch | undefined;

  beforeAll(async () => {
    nats = await startNats();
    cp = await connect(await nats.connectOptions('control-plane'));
    node = await connect(await nats.connectOptions({ node: NODE }));
    kv = await new Kvm(cp).create(stores.assignments, { history: 1, allow_direct: true });
  });

  afterAll(async () => {
    await watch?.stop();
    await node?.close();
    await cp?.close();
    await nats?.stop();
  });

  it('ignores a lower term than the one applied; applies equal and higher terms and term-less documents', async () => {
    const applied: string[] = [];
    watch = watchAssignment({
      nc: node,
      node: NODE,
      bucket: stores.assignments,
      log: testLogger(),
      resyncMs: 200,
      onAssignment: async (a) => void applied.push(`${a.workloads[0]?.deployment}@${a.term ?? '-'}`),
    });
    const put = async (d: AssignmentDoc) => kv.put(NODE, encode(Assignment, 'assignment', d));

    await put(doc('a', 1, 5));
    await until(() => applied.length === 1, 'term 5 applied');
    await put(doc('stale', 2, 4));
    await until(() => watch?.stats().staleTerm === 1, 'term 4 ignored');
    await put(doc('b', 3, 5));
    await until(() => applied.length === 2, 'equal term applied');
    await put(doc('c', 4));
    await until(() => applied.length === 3, 'term-less document applied');
    await put(doc('d', 5, 6));
    await until(() => applied.length === 4, 'higher term applied');
    expect(applied).toEqual(['a@5', 'b@5', 'c@-', 'd@6']);
  });
});
