import { describe, expect, it } from 'vitest';
import { isDatatypeMismatchError, isInvalidRequestError, isShapeMismatchError, isSizeMismatchError } from '../workloads/errors.ts';
import { batchable, checkInputs, concatBatch, splitBatch, type TensorSpec, type WireTensor } from './tensors.ts';

const spec: TensorSpec[] = [{ name: 'x', datatype: 'FP32', shape: ['N', 3, 2] }];
const fp32 = (name: string, shape: number[], n = shape.reduce((a, b) => a * b, 1)): WireTensor => ({
  name,
  datatype: 'FP32',
  shape,
  data: new Uint8Array(new Float32Array(Array.from({ length: n }, (_, i) => i)).buffer),
});

describe('checkInputs', () => {
  const cases: { name: string; tensors: WireTensor[]; want: (err: unknown) => boolean }[] = [
    { name: 'wrong datatype', tensors: [{ ...fp32('x', [1, 3, 2]), datatype: 'INT32' }], want: isDatatypeMismatchError },
    { name: 'wrong rank', tensors: [fp32('x', [6])], want: isShapeMismatchError },
    { name: 'wrong fixed dim', tensors: [fp32('x', [1, 2, 3])], want: isShapeMismatchError },
    { name: 'too few bytes', tensors: [fp32('x', [2, 3, 2], 6)], want: isSizeMismatchError },
    { name: 'unknown input', tensors: [fp32('y', [1, 3, 2])], want: isInvalidRequestError },
    { name: 'missing input', tensors: [], want: isInvalidRequestError },
    { name: 'duplicate input', tensors: [fp32('x', [1, 3, 2]), fp32('x', [1, 3, 2])], want: isInvalidRequestError },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, () => {
      let err: unknown;
      try {
        checkInputs(spec, c.tensors);
      } catch (e) {
        err = e;
      }
      expect(c.want(err)).toBe(true);
    });
  }

  it('accepts any batch size on a free axis', () => {
    expect(checkInputs(spec, [fp32('x', [5, 3, 2])])[0]?.shape).toEqual([5, 3, 2]);
  });

  it('refuses inputs that disagree on the batch size', () => {
    const two: TensorSpec[] = [spec[0]!, { name: 'm', datatype: 'FP32', shape: ['N', 1] }];
    expect(() => checkInputs(two, [fp32('x', [2, 3, 2]), fp32('m', [3, 1])])).toThrow(/has shape/);
  });
});

describe('batching', () => {
  it('knows which models can batch', () => {
    expect(batchable(spec)).toBe(true);
    expect(batchable([{ name: 'x', datatype: 'FP32', shape: [1, 3] }])).toBe(false);
  });

  it('concatenates requests and splits the outputs back by rows', () => {
    const a = [fp32('x', [1, 3, 2])];
    const b = [fp32('x', [2, 3, 2])];
    const [joined] = concatBatch([a, b]);
    expect(joined?.shape).toEqual([3, 3, 2]);
    expect(joined?.data.byteLength).toBe(3 * 6 * 4);
    const parts = splitBatch([joined!], [1, 2]);
    expect(parts.map((p) => p[0]?.shape)).toEqual([
      [1, 3, 2],
      [2, 3, 2],
    ]);
    expect(Buffer.from(parts[1]![0]!.data).equals(Buffer.from(b[0]!.data))).toBe(true);
  });
});
