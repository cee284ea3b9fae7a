import type { Accelerator } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import { isModelLoadError } from '../workloads/errors.ts';
import { sessionExecutor } from './executor.ts';
import { float16ToFloat32, float32ToFloat16 } from '@edgeplane/api';
import { tinyModel } from './fixtures/tiny-models.ts';
import { ppocrClassifier, PPOCR_CLS } from './fixtures/ppocr.ts';
import { loadSession, runSession } from './session.ts';
import type { WireTensor } from './tensors.ts';

const cpu: Accelerator = { id: 'cpu0', type: 'CPU', memoryMiB: 4096, precisions: ['fp32', 'fp16', 'int8'], tops: {} };
const gpu: Accelerator = { id: 'gpu0', type: 'GPU', vendor: 'NVIDIA', model: 'Jetson AGX Xavier', memoryMiB: 16384, precisions: ['fp32', 'fp16', 'int8'], tops: {}, features: ['cuda'] };

function rowsTensor(rows: number[][], half: boolean): WireTensor {
  const flat = rows.flat();
  const data = half ? new Uint8Array(new Uint16Array(flat.map(float32ToFloat16)).buffer) : new Uint8Array(new Float32Array(flat).buffer);
  return { name: 'X', datatype: half ? 'FP16' : 'FP32', shape: [rows.length, rows[0]!.length], data };
}

function values(t: WireTensor): number[] {
  const copy = new Uint8Array(t.data).buffer;
  if (t.datatype === 'FP16') return Array.from(new Uint16Array(copy), float16ToFloat32);
  return Array.from(new Float32Array(copy));
}

describe('loadSession with generated models', () => {
  const rows = [
    [1, 2, 0.5, -1],
    [0.25, -0.5, 1, 2],
  ];
  const cases = [
    { precision: 'fp32', tolerance: 1e-6 },
    { precision: 'fp16', tolerance: 1e-3 },
    // Activations are quantised at run time: within a few hundredths of the exact result.
    { precision: 'int8', tolerance: 0.05 },
  ] as const;
  for (const c of cases) {
    it(`runs the ${c.precision} model and computes the right result`, async () => {
      const m = tinyModel({ precision: c.precision });
      const loaded = await loadSession(m.bytes, cpu, { threads: 1 });
      expect(loaded.providers).toEqual(['cpu']);
      expect(loaded.inputs).toEqual([{ name: 'X', datatype: c.precision === 'fp16' ? 'FP16' : 'FP32', shape: ['N', 4] }]);
      expect(loaded.loadMs).toBeGreaterThan(0);
      const [y] = await runSession(loaded.session, loaded.outputs, [rowsTensor(rows, c.precision === 'fp16')]);
      expect(y?.shape).toEqual([2, 3]);
      const got = values(y!);
      rows.flatMap((r) => m.expected(r)).forEach((want, i) => expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(c.tolerance));
      await loaded.release();
    });
  }

  it('runs inputs whose bytes sit at an unaligned offset of a larger buffer', async () => {
    const m = tinyModel({ precision: 'fp32' });
    const loaded = await loadSession(m.bytes, cpu, { threads: 1 });
    const pool = Buffer.alloc(1 + 16);
    Buffer.from(new Float32Array(rows[0]!).buffer).copy(pool, 1);
    const x: WireTensor = { name: 'X', datatype: 'FP32', shape: [1, 4], data: pool.subarray(1) };
    const [y] = await runSession(loaded.session, loaded.outputs, [x]);
    expect(values(y!)).toEqual(m.expected(rows[0]!));
    await loaded.release();
  });

  for (const precision of ['fp32', 'fp16'] as const) {
    it(`runs the ${precision} model in a worker thread with the same result`, async () => {
      const m = tinyModel({ precision });
      const loaded = await loadSession(m.bytes, cpu, { threads: 1, isolation: 'worker' });
      expect(loaded.isolation).toBe('worker');
      const [y] = await runSession(loaded.session, loaded.outputs, [rowsTensor(rows, precision === 'fp16')]);
      expect(y?.shape).toEqual([2, 3]);
      expect(values(y!)).toEqual(rows.flatMap((r) => m.expected(r)));
      await loaded.release();
      const err = await runSession(loaded.session, loaded.outputs, [rowsTensor(rows, precision === 'fp16')]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
    });
  }

  it('falls back to CPU with a reason when the CUDA provider does not load', async () => {
    const loaded = await loadSession(tinyModel({ precision: 'fp32' }).bytes, gpu);
    expect(loaded.providers).toEqual(['cpu']);
    expect(loaded.fallbackReason).toBe('CUDA provider not loadable, running on CPU');
    await loaded.release();
  });

  it('refuses bytes that are not a model with ModelLoadError', async () => {
    const err = await loadSession(new TextEncoder().encode('not a model'), cpu).catch((e: unknown) => e);
    expect(isModelLoadError(err)).toBe(true);
  });

  it('batches requests through the executor and returns each its own rows', async () => {
    const m = tinyModel({ precision: 'fp32' });
    const loaded = await loadSession(m.bytes, cpu, { threads: 1 });
    const exec = sessionExecutor(loaded, 'cpu0/0', 'cpu0', 'tiny', 1);
    const out = await exec.run([[rowsTensor([rows[0]!], false)], [rowsTensor(rows, false)]]);
    expect(out.map((o) => o[0]?.shape)).toEqual([
      [1, 3],
      [2, 3],
    ]);
    expect(values(out[0]![0]!)).toEqual(m.expected(rows[0]!));
    expect(values(out[1]![0]!)).toEqual(rows.flatMap((r) => m.expected(r)));
    await loaded.release();
  });
});

describe('loadSession with the PP-OCR direction classifier', () => {
  it('loads, warms up and classifies a batch into probabilities', async () => {
    const loaded = await loadSession(ppocrClassifier(), cpu, { threads: 1 });
    expect(loaded.inputs[0]).toMatchObject({ name: PPOCR_CLS.input, datatype: 'FP32' });
    expect(loaded.inputs[0]?.shape.slice(1, 2)).toEqual([3]);
    expect(loaded.warmupMs).toBeGreaterThan(0);
    const n = 2;
    const pixels = new Float32Array(n * 3 * 48 * 192).map((_, i) => ((i % 97) / 97) * 2 - 1);
    const x: WireTensor = { name: 'x', datatype: 'FP32', shape: [n, 3, 48, 192], data: new Uint8Array(pixels.buffer) };
    const [y] = await runSession(loaded.session, loaded.outputs, [x]);
    expect(y?.shape).toEqual([n, PPOCR_CLS.classes]);
    const p = values(y!);
    for (let i = 0; i < n; i++) expect((p[2 * i] ?? 0) + (p[2 * i + 1] ?? 0)).toBeCloseTo(1, 4);
    await loaded.release();
  });
});
