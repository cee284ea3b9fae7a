// Artifacts from the JetStream object store of a real nats-server: a verified fetch, a read
// interrupted by the server going away and resumed from the bytes on disk, and a corrupt
// object that never loads.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { startNats, type NatsServer } from '@edgeplane/env';
import { ArtifactStore } from '../../agent/src/artifacts/store.ts';
import { createWorkloadManager } from '../../agent/src/workloads/manager.ts';
import { ppocrClassifier } from '../../agent/src/runtime/fixtures/ppocr.ts';
import { CPU, assignment, workload } from '../../agent/src/workloads/fixtures/assignments.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('nats-obj artifacts', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  /** The agent's side: a node credential, which may read the store and never write it. */
  let node: NatsConnection;
  let os: ObjectStore;
  let dir: string;
  const model = ppocrClassifier();
  const big = randomBytes(3 * 1024 * 1024);

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect(await nats.connectOptions('admin'));
    node = await connect({ ...(await nats.connectOptions({ node: 'edge-obj-1' })), reconnectTimeWait: 200, maxReconnectAttempts: -1 });
    os = await new Objm(nc).create('ep-models', { storage: 'file' });
    await os.putBlob({ name: 'ppocr/cls.onnx', options: { max_chunk_size: 64 * 1024 } }, model);
    await os.putBlob({ name: 'blob/big.bin', options: { max_chunk_size: 64 * 1024 } }, big);
    dir = mkdtempSync(join(tmpdir(), 'ep-obj-'));
  });

  afterAll(async () => {
    await node?.close();
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetches, verifies and loads the PP-OCR classifier from the object store', async () => {
    const manager = await createWorkloadManager({ accelerators: [CPU], cacheDir: join(dir, 'm1'), cacheMaxBytes: 1e8, nats: node });
    try {
      const variant = { name: 'fp32', precision: 'fp32' as const, profile: 'full' as const, uri: 'nats-obj://ep-models/ppocr/cls.onnx', sha256: sha(model), sizeBytes: model.byteLength, memoryMiB: 16 };
      await manager.apply(assignment([workload(variant, { key: 'vision/cls', deployment: 'cls', maxBatch: 1 })]));
      await manager.settled();
      expect(manager.reports()[0]).toMatchObject({ key: 'vision/cls', phase: 'Ready' });
      expect(manager.cachedArtifacts()).toEqual([sha(model)]);
      const out = await manager.model('cls')!.infer([{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: new Uint8Array(4 * 3 * 48 * 192) }]);
      expect(out[0]?.shape).toEqual([1, 2]);
    } finally {
      await manager.close();
    }
  });

  it('never loads an object whose bytes do not match the assigned digest', async () => {
    const manager = await createWorkloadManager({ accelerators: [CPU], cacheDir: join(dir, 'm2'), cacheMaxBytes: 1e8, nats: node });
    try {
      const variant = { name: 'fp32', precision: 'fp32' as const, profile: 'full' as const, uri: 'nats-obj://ep-models/ppocr/cls.onnx', sha256: sha(big), sizeBytes: model.byteLength, memoryMiB: 16 };
      await manager.apply(assignment([workload(variant, { key: 'vision/cls', deployment: 'cls' })]));
      await manager.settled();
      expect(manager.reports()[0]).toMatchObject({ phase: 'Failed', reason: 'DigestMismatch' });
      expect(manager.cachedArtifacts()).toEqual([]);
    } finally {
      await manager.close();
    }
  });

  it('resumes a read interrupted by the server going away, skipping what is on disk', async () => {
    let restarted: Promise<void> | null = null;
    const store = await ArtifactStore.open({
      dir: join(dir, 'resume'),
      maxBytes: 1e8,
      nats: () => node,
      stallTimeoutMs: 500,
      attempts: 20,
      retryDelayMs: 100,
      onProgress: async (_sha, onDisk) => {
        // A third of the way in, the server goes away for a moment.
        if (restarted || onDisk < big.byteLength / 3) return;
        await nats.pause();
        // Down for longer than the stall timeout, so the read gives up and a new attempt resumes.
        restarted = new Promise((r) => setTimeout(r, 1500)).then(() => nats.restart());
      },
    });
    const r = await store.fetch({ uri: 'nats-obj://ep-models/blob/big.bin', sha256: sha(big), sizeBytes: big.byteLength });
    await restarted;
    expect(r.attempts).toBeGreaterThan(1);
    expect(r.resumedFrom).toBeGreaterThanOrEqual(big.byteLength / 3);
    expect(r.resumedFrom + r.fetchedBytes).toBe(big.byteLength);
    expect(statSync(join(dir, 'resume', 'blobs', sha(big))).size).toBe(big.byteLength);
    expect(sha(await store.readVerified(sha(big)))).toBe(sha(big));
  });
});
