import { describe, expect, it } from 'vitest';
import { isInvalidRequestError, isSizeMismatchError } from '../workloads/errors.ts';
import { float16ToFloat32, float32ToFloat16 } from '@edgeplane/api';
import { fromJson, metadataOf, toJson } from './kserve.ts';

describe('half precision', () => {
  const cases = [0, 1, -2, 0.5, 65504, 1e-5, 3.14159];
  for (const v of cases) {
    it(`round-trips ${v} within fp16 precision`, () => {
      expect(Math.abs(float16ToFloat32(float32ToFloat16(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-7);
    });
  }
  it('overflows to infinity', () => expect(float16ToFloat32(float32ToFloat16(1e6))).toBe(Number.POSITIVE_INFINITY));
});

describe('JSON tensors', () => {
  it('accepts nested row-major data and gives it back flat', () => {
    const t = fromJson({ name: 'x', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3, 4]] });
    expect(t.data.byteLength).toBe(16);
    expect(toJson(t)).toEqual({ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] });
  });

  const types = [
    { datatype: 'INT64', data: [1, -2], back: [1, -2] },
    { datatype: 'BOOL', data: [true, false], back: [true, false] },
    { datatype: 'FP16', data: [0.5, -1], back: [0.5, -1] },
    { datatype: 'INT8', data: [-128, 127], back: [-128, 127] },
  ];
  for (const c of types) {
    it(`round-trips ${c.datatype}`, () => {
      expect(toJson(fromJson({ name: 'x', shape: [2], datatype: c.datatype, data: c.data })).data).toEqual(c.back);
    });
  }

  it('refuses a count of elements that does not match the shape', () => {
    let err: unknown;
    try {
      fromJson({ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2] });
    } catch (e) {
      err = e;
    }
    expect(isSizeMismatchError(err)).toBe(true);
  });

  it('refuses an unknown datatype and non-numeric data', () => {
    expect(() => fromJson({ name: 'x', shape: [1], datatype: 'FP64', data: [1] })).toThrow(/unknown datatype FP64/);
    let err: unknown;
    try {
      fromJson({ name: 'x', shape: [1], datatype: 'FP32', data: ['a'] });
    } catch (e) {
      err = e;
    }
    expect(isInvalidRequestError(err)).toBe(true);
  });

  it('reports free dimensions as -1', () => {
    expect(metadataOf([{ name: 'x', datatype: 'FP32', shape: ['N', 3] }])).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 3] }]);
  });
});
