import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, floatTensor, int64Tensor, tensorFloats, tensorInts } from './tensor.ts';
import { decodeModel, encodeModel } from './proto.ts';
import { isModelError } from '../errors.ts';

describe('float16 conversion', () => {
  const rows: { name: string; input: number; bits: number }[] = [
    { name: 'zero', input: 0, bits: 0x0000 },
    { name: 'one', input: 1, bits: 0x3c00 },
    { name: 'minus two', input: -2, bits: 0xc000 },
    { name: 'largest normal', input: 65504, bits: 0x7bff },
    { name: 'overflow to infinity', input: 70000, bits: 0x7c00 },
    { name: 'smallest subnormal', input: 2 ** -24, bits: 0x0001 },
    { name: 'underflow to zero', input: 2 ** -26, bits: 0x0000 },
    { name: 'rounds to nearest', input: 1 + 2 ** -11 + 2 ** -13, bits: 0x3c01 },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(float32ToFloat16(row.input)).toBe(row.bits);
    });
  }
  it('round-trips within half a unit in the last place (relative 2^-11)', () => {
    for (const v of [0.1, -3.75, 1234.5, 1e-3, 40000]) {
      expect(Math.abs(float16ToFloat32(float32ToFloat16(v)) - v) / Math.abs(v)).toBeLessThanOrEqual(2 ** -11);
    }
  });
});

describe('tensor data', () => {
  it('reads back what it wrote, raw and typed', () => {
    expect(Array.from(tensorFloats(floatTensor('a', [3], Float32Array.of(1, -2, 3.5))))).toEqual([1, -2, 3.5]);
    expect(tensorInts(int64Tensor('b', [2], [0, -1]))).toEqual([0, -1]);
    expect(Array.from(tensorFloats({ name: 'c', dims: [2], dataType: 1, floatData: [4, 5] }))).toEqual([4, 5]);
  });
});

describe('decodeModel', () => {
  it('refuses bytes that are not a model', () => {
    let caught: unknown;
    try {
      decodeModel(new TextEncoder().encode('this is not an onnx file at all'), 'junk');
    } catch (err) {
      caught = err;
    }
    expect(isModelError(caught, 'NOT_ONNX')).toBe(true);
  });
  it('accepts an encoded model', () => {
    const bytes = encodeModel({ irVersion: 7, graph: { node: [{ opType: 'Relu', input: ['x'], output: ['y'] }] } });
    expect(decodeModel(bytes).graph?.node?.[0]?.opType).toBe('Relu');
  });
});
