import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Assignment } from '@edgeplane/api';
import { createAssignmentStore, isStateFileError } from './assignment-store.ts';

const assignment = (node: string, n: number): Assignment => ({
  v: 1,
  node,
  issuedAtMs: 1_700_000_000_000 + n,
  workloads: [
    {
      key: 'vision/ocr',
      namespace: 'vision',
      deployment: 'ocr',
      model: 'ppocr-cls',
      task: 'classification',
      variant: { name: 'int8', precision: 'int8', profile: 'lite', uri: 'nats-obj://ep-models/cls-int8', sha256: 'a'.repeat(64), sizeBytes: 600_000, memoryMiB: 16 },
      accelerator: 'cpu0',
      maxBatch: 4,
      maxQueueDelayMs: 2,
      latencySloMs: 50,
    },
  ],
});

describe('assignment store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ep-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('nothing saved loads as null', async () => {
    expect(await createAssignmentStore(join(dir, 'absent'), 'edge-1').load()).toBeNull();
  });

  it('round-trips the last save and leaves no temp files', async () => {
    const store = createAssignmentStore(join(dir, 'nested', 'state'), 'edge-1');
    await store.save(assignment('edge-1', 1), 3);
    await store.save(assignment('edge-1', 2), 7);
    const loaded = await store.load();
    expect(loaded?.revision).toBe(7);
    expect(loaded?.assignment).toEqual(assignment('edge-1', 2));
    expect(await readdir(join(dir, 'nested', 'state'))).toEqual(['assignment.json']);
  });

  const corrupt = [
    { name: 'truncated JSON', body: '{"revision":1,"assig', path: '(root)' },
    { name: 'schema mismatch', body: JSON.stringify({ revision: 1, savedAtMs: 1, assignment: { v: 1, node: 'edge-1', workloads: 'x', issuedAtMs: 1 } }), path: 'assignment.workloads' },
    { name: 'another node', body: JSON.stringify({ revision: 1, savedAtMs: 1, assignment: assignment('edge-2', 1) }), path: 'assignment.node' },
  ];
  for (const row of corrupt) {
    it(`unusable file: ${row.name}`, async () => {
      const store = createAssignmentStore(dir, 'edge-1');
      await writeFile(store.file, row.body);
      const err = await store.load().then(() => null, (e: unknown) => e);
      expect(isStateFileError(err)).toBe(true);
      expect(isStateFileError(err) && err.code).toBe('CORRUPT_STATE');
      expect(isStateFileError(err) && err.issues[0]?.path).toBe(row.path);
    });
  }
});
