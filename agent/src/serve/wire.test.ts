import { describe, expect, it } from 'vitest';
import { isInvalidRequestError, isPayloadTooLargeError, isSizeMismatchError, isTensorTooLargeError } from '../workloads/errors.ts';
import { decodeRequest, encodeOutputs, timeoutOf } from './wire.ts';

const headers = (h: Record<string, string>) => ({ get: (k: string) => h[k] ?? '' });
const meta = (list: unknown) => headers({ 'ep-tensors': JSON.stringify(list) });

describe('decodeRequest', () => {
  it('splits the payload into tensors in header order', () => {
    const payload = new Uint8Array(8 + 3);
    const t = decodeRequest(meta([{ name: 'a', datatype: 'FP32', shape: [1, 2] }, { name: 'b', datatype: 'UINT8', shape: [3] }]), payload, 100);
    expect(t.map((x) => [x.name, x.data.byteLength])).toEqual([
      ['a', 8],
      ['b', 3],
    ]);
  });

  const bad: { name: string; h: ReturnType<typeof headers>; bytes: number; limit?: number; maxElements?: number; want: (e: unknown) => boolean; match?: RegExp }[] = [
    { name: 'no tensors header', h: headers({}), bytes: 4, want: isInvalidRequestError },
    { name: 'header not JSON', h: headers({ 'ep-tensors': '{nope' }), bytes: 4, want: isInvalidRequestError },
    { name: 'unknown datatype', h: meta([{ name: 'a', datatype: 'FP64', shape: [1] }]), bytes: 8, want: isInvalidRequestError },
    { name: 'payload short', h: meta([{ name: 'a', datatype: 'FP32', shape: [2] }]), bytes: 4, want: isSizeMismatchError, match: /input a carries 4 bytes.*need 8/ },
    { name: 'bytes left over', h: meta([{ name: 'a', datatype: 'FP32', shape: [1] }]), bytes: 6, want: isSizeMismatchError },
    { name: 'payload over the limit', h: meta([{ name: 'a', datatype: 'UINT8', shape: [64] }]), bytes: 64, limit: 32, want: isPayloadTooLargeError },
    { name: 'a shape claiming 2^40 elements', h: meta([{ name: 'a', datatype: 'FP32', shape: [2 ** 20, 2 ** 20] }]), bytes: 4, want: isTensorTooLargeError, match: /over the limit of 16777216 elements/ },
    { name: 'a 2^40 axis beside a zero one', h: meta([{ name: 'a', datatype: 'FP32', shape: [0, 2 ** 40] }]), bytes: 0, want: isTensorTooLargeError },
    { name: 'more elements than the configured maximum', h: meta([{ name: 'a', datatype: 'UINT8', shape: [8, 8] }]), bytes: 64, maxElements: 32, want: isTensorTooLargeError },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}`, () => {
      let err: unknown;
      try {
        decodeRequest(c.h, new Uint8Array(c.bytes), c.limit ?? 1024, c.maxElements);
      } catch (e) {
        err = e;
      }
      expect(c.want(err)).toBe(true);
      if (c.match) expect((err as Error).message).toMatch(c.match);
    });
  }
});

describe('encodeOutputs and timeoutOf', () => {
  it('puts metadata in the header and bytes in order', () => {
    const { tensors, payload } = encodeOutputs([
      { name: 'y', datatype: 'UINT8', shape: [2], data: new Uint8Array([1, 2]) },
      { name: 'z', datatype: 'UINT8', shape: [1], data: new Uint8Array([3]) },
    ]);
    expect(JSON.parse(tensors)).toEqual([
      { name: 'y', datatype: 'UINT8', shape: [2] },
      { name: 'z', datatype: 'UINT8', shape: [1] },
    ]);
    expect([...payload]).toEqual([1, 2, 3]);
  });

  it('reads a positive deadline budget and ignores anything else', () => {
    expect(timeoutOf(headers({ 'ep-deadline-ms': '250' }))).toBe(250);
    expect(timeoutOf(headers({ 'ep-deadline-ms': '-1' }))).toBeUndefined();
    expect(timeoutOf(headers({ 'ep-deadline-ms': 'soon' }))).toBeUndefined();
    expect(timeoutOf(undefined)).toBeUndefined();
  });
});
