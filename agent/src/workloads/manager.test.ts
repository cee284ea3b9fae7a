import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Accelerator } from '@edgeplane/api';
import { isModelNotReadyError } from './errors.ts';
import { CPU, assignment, floats, row, sha256, workload, writeVariant } from './fixtures/assignments.ts';
import { createWorkloadManager, type WorkloadManagerImpl } from './manager.ts';
import type { WorkloadEvent } from './workload.ts';

let dir: string;
let manager: WorkloadManagerImpl | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ep-workloads-'));
});
afterEach(async () => {
  await manager?.close();
  manager = undefined;
  rmSync(dir, { recursive: true, force: true });
});

let reportChanges = 0;
async function start(accelerators: readonly Accelerator[] = [CPU], onEvent?: (e: WorkloadEvent) => void) {
  reportChanges = 0;
  manager = await createWorkloadManager({
    accelerators,
    cacheDir: join(dir, 'cache'),
    cacheMaxBytes: 10 * 1024 * 1024,
    fileRoots: [dir],
    fetchRetryDelayMs: 5,
    onReportChange: () => reportChanges++,
    ...(onEvent ? { onEvent } : {}),
  });
  return manager;
}

describe('createWorkloadManager', () => {
  it('takes a new workload through Downloading and Loading to Ready, and serves it', async () => {
    const { variant, model } = writeVariant(dir, 'fp32');
    const m = await start();
    await m.apply(assignment([workload(variant)]));
    expect(['Downloading', 'Loading']).toContain(m.reports()[0]?.phase);
    await m.settled();
    expect(m.reports()).toEqual([{ key: 'vision/tiny', variant: 'fp32', accelerator: 'cpu0', phase: 'Ready' }]);
    // Downloading, Loading and Ready each asked for an early heartbeat.
    expect(reportChanges).toBe(3);
    const out = await m.model('tiny')!.infer([row([1, 2, 0.5, -1])]);
    expect(floats(out[0])).toEqual(model.expected([1, 2, 0.5, -1]));
    expect(m.cachedArtifacts()).toEqual([variant.sha256]);
    const r = m.reports()[0]!;
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms ?? 0);
    expect(m.load()).toEqual([{ id: 'cpu0', util: expect.any(Number), queue: 0 }]);
  });

  it('marks the answers of a workload with an escalation tier and reports its counters; with no connection hard inputs stay home', async () => {
    const { variant } = writeVariant(dir, 'fp32');
    const m = await start();
    const escalation = { deployment: 'big', rule: { confidenceBelow: 0.999 }, budget: { requestsPerSecond: 5, bytesPerSecond: 2 ** 20, meteredFactor: 0.1 }, waitForAnswer: true };
    await m.apply(
      assignment([
        workload(variant, { task: 'classification', escalation }),
        workload(variant, { key: 'vision/reg', deployment: 'reg', escalation }),
        workload(variant, { key: 'vision/plain', deployment: 'plain' }),
      ]),
    );
    await m.settled();
    // No NATS connection: the node is offline, so a hard input is answered here (budget).
    expect((await m.model('tiny')!.answer!([row([1, 2, 0.5, -1])])).escalation).toEqual({ tier: 'edge', outcome: 'budget' });
    // A regression output has no score the rule can read.
    expect((await m.model('reg')!.answer!([row([1, 2, 0.5, -1])])).escalation).toEqual({ tier: 'edge', outcome: 'unsupported' });
    expect((await m.model('plain')!.answer!([row([1, 2, 0.5, -1])])).escalation).toBeUndefined();
    const reports = new Map(m.reports().map((r) => [r.key, r]));
    expect(reports.get('vision/tiny')?.escalation).toEqual({ requests: 1, hard: 1, escalated: 0, answered: 0, changed: 0, failed: 0, budgetDenied: 1, bytesUp: 0 });
    expect(reports.get('vision/plain')?.escalation).toBeUndefined();
    expect(m.escalation().map((e) => [e.workload, e.outcomes.budget, e.outcomes.unsupported])).toEqual([
      ['vision/reg', 0, 1],
      ['vision/tiny', 1, 0],
    ]);
  });

  it('fails with DigestMismatch and never loads an artifact whose digest is wrong', async () => {
    const { variant } = writeVariant(dir, 'fp32');
    const events: WorkloadEvent[] = [];
    const m = await start([CPU], (e) => events.push(e));
    await m.apply(assignment([workload({ ...variant, sha256: sha256(new Uint8Array([1, 2, 3])) })]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Failed', reason: 'DigestMismatch' });
    // The status names the mismatch, never what the local file hashes to or its size.
    expect(m.reports()[0]?.message).toMatch(/digest mismatch/);
    expect(m.reports()[0]?.message).not.toContain(variant.sha256);
    expect(m.reports()[0]?.message).not.toContain(String(variant.sizeBytes));
    expect(events.map((e) => e.reason)).toEqual(['DigestMismatch']);
    expect(events[0]?.type).toBe('Warning');
    expect(m.cachedArtifacts()).toEqual([]);
    expect(readdirSync(join(dir, 'cache', 'blobs'))).toEqual([]);
    const err = await m.model('tiny')!.infer([row([1, 2, 3, 4])]).catch((e: unknown) => e);
    expect(isModelNotReadyError(err)).toBe(true);
  });

  it('fails with UriNotAllowed for a file:// artifact outside the configured roots', async () => {
    const m = await start();
    await m.apply(assignment([workload({ name: 'passwd', precision: 'fp32', profile: 'full', uri: 'file:///etc/passwd', sha256: 'a'.repeat(64), sizeBytes: 100, memoryMiB: 1 })]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Failed', reason: 'UriNotAllowed' });
    expect(m.reports()[0]?.message).toMatch(/outside the configured file roots/);
    expect(readdirSync(join(dir, 'cache', 'partial'))).toEqual([]);
  });

  it('never loads a cached artifact that was corrupted on disk', async () => {
    const { variant } = writeVariant(dir, 'fp32');
    const first = await start();
    await first.apply(assignment([workload(variant)]));
    await first.settled();
    await first.close();
    // Flip one byte of the cached model, then start again over the same cache.
    const blob = join(dir, 'cache', 'blobs', variant.sha256);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(blob);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0x01;
    writeFileSync(blob, bytes);
    const m = await start();
    expect(m.cachedArtifacts()).toEqual([variant.sha256]);
    await m.apply(assignment([workload({ ...variant, uri: 'file:///nonexistent/model.onnx' })]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Failed', reason: 'DigestMismatch' });
    expect(m.cachedArtifacts()).toEqual([]);
  });

  it('switches tier under continuous load with zero failed requests', async () => {
    const fp32 = writeVariant(dir, 'fp32');
    const int8 = writeVariant(dir, 'int8');
    const m = await start();
    await m.apply(assignment([workload(fp32.variant)]));
    await m.settled();
    const model = m.model('vision/tiny')!;
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const client = async () => {
      for (let i = 0; i < 5000 && !stop; i++) {
        try {
          const out = await model.infer([row([1, 2, 0.5, -1])]);
          expect(floats(out[0])).toHaveLength(3);
          ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await new Promise((r) => setTimeout(r, 30));
    const before = ok;
    await m.apply(assignment([workload(int8.variant)]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ variant: 'int8', phase: 'Ready' });
    const mid = ok;
    await m.apply(assignment([workload(fp32.variant)]));
    await m.settled();
    await new Promise((r) => setTimeout(r, 30));
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(before).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(mid);
    expect(m.reports()[0]).toMatchObject({ variant: 'fp32', phase: 'Ready' });
    expect(m.reports()[0]?.reason).toBeUndefined();
  });

  it('refuses once, as LoadCrashed, an artifact whose load was under way when the agent stopped', async () => {
    const { variant } = writeVariant(dir, 'fp32');
    // What a run killed during the load (the kernel's out-of-memory killer) leaves behind.
    mkdirSync(join(dir, 'cache', 'loading'), { recursive: true });
    writeFileSync(join(dir, 'cache', 'loading', variant.sha256), '');
    const m = await start();
    await m.apply(assignment([workload(variant)]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Failed', reason: 'LoadCrashed' });
    expect(m.reports()[0]?.message).toMatch(/stopped while loading fp32/);
    expect(readdirSync(join(dir, 'cache', 'loading'))).toEqual([]);
    // Assigned anew (after the control plane's backoff), it loads.
    await m.apply(assignment([]));
    await m.settled();
    await m.apply(assignment([workload(variant)]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Ready' });
    expect(readdirSync(join(dir, 'cache', 'loading'))).toEqual([]);
  });

  it('keeps serving the old variant when the new one fails to verify', async () => {
    const fp32 = writeVariant(dir, 'fp32');
    const int8 = writeVariant(dir, 'int8');
    const m = await start();
    await m.apply(assignment([workload(fp32.variant)]));
    await m.settled();
    await m.apply(assignment([workload({ ...int8.variant, sha256: fp32.variant.sha256.replace(/^./, '0') })]));
    await m.settled();
    // Which variant failed, so the control plane tells a failed switch from one in progress.
    expect(m.reports()[0]).toMatchObject({ variant: 'fp32', phase: 'Ready', reason: 'DigestMismatch', failedVariant: 'int8' });
    expect(floats((await m.model('tiny')!.infer([row([1, 2, 0.5, -1])]))[0])).toEqual(fp32.model.expected([1, 2, 0.5, -1]));
  });

  it('drains a removed workload: running requests finish, then it is gone', async () => {
    const { variant } = writeVariant(dir, 'fp32');
    const m = await start();
    await m.apply(assignment([workload(variant)]));
    await m.settled();
    const model = m.model('tiny')!;
    const inflight = Array.from({ length: 20 }, () => model.infer([row([1, 1, 1, 1])]));
    await m.apply(assignment([]));
    expect((await Promise.all(inflight)).length).toBe(20);
    await m.settled();
    expect(m.reports()).toEqual([]);
    expect(m.model('tiny')).toBeNull();
  });

  it('runs on CPU with a ProviderFallback reason when the GPU provider does not load', async () => {
    const gpu: Accelerator = { id: 'gpu0', type: 'GPU', vendor: 'NVIDIA', memoryMiB: 8192, precisions: ['fp32', 'fp16'], tops: {}, features: ['cuda'] };
    const { variant } = writeVariant(dir, 'fp16');
    const events: WorkloadEvent[] = [];
    const m = await start([CPU, gpu], (e) => events.push(e));
    await m.apply(assignment([workload(variant, { accelerator: 'gpu0' })]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Ready', accelerator: 'gpu0', reason: 'ProviderFallback', message: 'CUDA provider not loadable, running on CPU' });
    expect(events[0]).toEqual({ key: 'vision/tiny', type: 'Warning', reason: 'ProviderFallback', message: 'CUDA provider not loadable, running on CPU' });
    expect(events[1]).toMatchObject({ type: 'Normal', reason: 'Loaded', message: expect.stringMatching(/^fp16 on gpu0 \(cpu\): loaded in \d+ ms, warm-up \d+ ms$/) });
  });

  it('fails with AcceleratorNotFound for an accelerator the node does not have', async () => {
    const { variant } = writeVariant(dir, 'fp32');
    const m = await start();
    await m.apply(assignment([workload(variant, { accelerator: 'npu7' })]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Failed', reason: 'AcceleratorNotFound' });
  });

  it('retries a fetch that failed once the artifact becomes reachable', async () => {
    const { variant, model } = writeVariant(dir, 'fp32', 'later');
    const path = join(dir, 'later.onnx');
    rmSync(path);
    const m = await start();
    await m.apply(assignment([workload(variant)]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Failed', reason: 'FetchFailed' });
    writeFileSync(path, model.bytes);
    await m.apply(assignment([workload(variant)]));
    await m.settled();
    expect(m.reports()[0]).toMatchObject({ phase: 'Ready' });
  });
});
