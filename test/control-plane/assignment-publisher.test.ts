// The assignment publisher against a real KV bucket: writes racing for one node end with the
// newest desired state (the race that left agents at AwaitingAgent), a forced write gives the
// agent a new revision, and one level-based sync repairs every kind of drift (an orphaned
// entry, a lost key, a foreign document, the whole bucket gone).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { pino } from 'pino';
import { Assignment, decode, type WorkloadAssignment } from '@edgeplane/api';
import { startNats, type NatsServer } from '@edgeplane/env';
import { AssignmentPublisher } from '../../control-plane/src/fleet/assignment-publisher.ts';
import { createMetrics } from '../../control-plane/src/metrics.ts';

const BUCKET = 'ep-assignments';
let nats: NatsServer;
let nc: NatsConnection;
let kv: KV;

const openBucket = async () => {
  const jsm = await jetstreamManager(nc);
  const exists = await jsm.streams.info(`KV_${BUCKET}`).then(
    () => true,
    () => false,
  );
  return exists ? new Kvm(nc).open(BUCKET) : new Kvm(nc).create(BUCKET, { history: 1, allow_direct: true });
};

const publisher = () => new AssignmentPublisher({ kv, metrics: createMetrics(), log: pino({ level: 'silent' }), ensureBucket: async () => void (await openBucket()) });

function workload(name: string): WorkloadAssignment {
  return {
    key: `ns/${name}`,
    namespace: 'ns',
    deployment: name,
    model: name,
    task: 'object-detection',
    variant: { name: `${name}-fp32`, precision: 'fp32', profile: 'full', uri: `nats-obj://ep-models/${name}.onnx`, sha256: 'a'.repeat(64), sizeBytes: 1000, memoryMiB: 10 },
    accelerator: 'gpu0',
    maxBatch: 1,
    maxQueueDelayMs: 0,
    latencySloMs: 50,
  };
}

async function stored(node: string): Promise<{ keys: string[]; revision: number } | null> {
  const e = await kv.get(node);
  if (!e || e.operation !== 'PUT') return null;
  const d = decode(Assignment, 'assignment', e.value);
  return { keys: d.ok ? d.value.workloads.map((w) => w.key) : ['<foreign>'], revision: e.revision };
}

beforeAll(async () => {
  nats = await startNats();
  nc = await connect(await nats.connectOptions('control-plane'));
  kv = await openBucket();
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe('writes racing for one node', () => {
  it('end with the newest desired state, whatever order the compare-and-set resolves them in', async () => {
    // As reconciles of different deployments do: each adds its own workload to the node's
    // desired state and publishes the node's document at once, all of them overlapping.
    for (let round = 0; round < 5; round++) {
      const p = publisher();
      const node = `race-${round}`;
      const want: WorkloadAssignment[] = [];
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 12; i++) {
        want.push(workload(`d${i}`));
        writes.push(p.publish(node, [...want]));
      }
      await Promise.all(writes);
      expect((await stored(node))?.keys).toEqual(want.map((w) => w.key));
    }
  });

  it('compute a lazily given document when its turn comes', async () => {
    const p = publisher();
    const want: WorkloadAssignment[] = [];
    const writes = Array.from({ length: 8 }, (_, i) => {
      want.push(workload(`l${i}`));
      return p.publish('lazy', () => want);
    });
    await Promise.all(writes);
    expect((await stored('lazy'))?.keys).toEqual(want.map((w) => w.key));
  });

  it('a forced write makes a new revision of an unchanged document', async () => {
    const p = publisher();
    await p.publish('forced', [workload('f')]);
    const before = (await stored('forced'))!.revision;
    expect(await p.publish('forced', [workload('f')])).toBe('unchanged');
    expect(await p.publish('forced', [workload('f')], { force: true })).toBe('updated');
    expect((await stored('forced'))!.revision).toBeGreaterThan(before);
  });
});

describe('one level-based sync', () => {
  it('removes orphans, rewrites lost and foreign entries, and leaves matching ones alone', async () => {
    await (await jetstreamManager(nc)).streams.purge(`KV_${BUCKET}`);
    const p = publisher();
    const desired = new Map<string, WorkloadAssignment[]>([
      ['keep', [workload('k')]],
      ['lost', [workload('l')]],
      ['foreign', [workload('x')]],
    ]);
    for (const [node, w] of desired) await p.publish(node, w);
    await p.publish('orphan', [workload('o')]);
    // Drift behind the publisher's back: a key purged, a document replaced, a node emptied
    // while its write failed (here: the desired state changed and nothing was written).
    await kv.purge('lost');
    await kv.put('foreign', new TextEncoder().encode('{"not":"an assignment"}'));
    const keepRevision = (await stored('keep'))!.revision;

    const result = await p.sync(desired.keys(), (n) => desired.get(n) ?? []);
    expect((await stored('lost'))?.keys).toEqual(['ns/l']);
    expect((await stored('foreign'))?.keys).toEqual(['ns/x']);
    expect((await stored('orphan'))?.keys).toEqual([]);
    expect((await stored('keep'))?.revision).toBe(keepRevision);
    expect(new Set(result.repaired)).toEqual(new Set(['lost', 'foreign', 'orphan']));
    // A second pass finds nothing to do.
    expect((await p.sync(desired.keys(), (n) => desired.get(n) ?? [])).repaired).toEqual([]);
  });

  it('creates the bucket again and rewrites every entry after JetStream lost it', async () => {
    const p = publisher();
    const desired = new Map([
      ['w1', [workload('a')]],
      ['w2', [workload('b'), workload('c')]],
    ]);
    for (const [node, w] of desired) await p.publish(node, w);
    await (await jetstreamManager(nc)).streams.delete(`KV_${BUCKET}`);

    const result = await p.sync(desired.keys(), (n) => desired.get(n) ?? []);
    expect(new Set(result.repaired)).toEqual(new Set(['w1', 'w2']));
    expect((await stored('w1'))?.keys).toEqual(['ns/a']);
    expect((await stored('w2'))?.keys).toEqual(['ns/b', 'ns/c']);
  });
});
