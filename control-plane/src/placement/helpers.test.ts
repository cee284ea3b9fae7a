import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpu, gpu } from './fixtures.ts';
import { SegmentedHeap } from './heap.ts';
import { canFetch, fetchSeconds, isLiteLink } from './link.ts';
import { joulesPerInference, predictP99Ms, supports } from './predict.ts';

describe('link helpers', () => {
  const rows = [
    { name: '100 MB over 100 Mbit/s', size: 100e6, bw: 100, seconds: 8 },
    { name: '5 MB over 0.05 Mbit/s (lora)', size: 5e6, bw: 0.05, seconds: 800 },
    { name: 'a dead link', size: 1, bw: 0, seconds: Infinity },
  ];
  for (const row of rows) {
    it(`fetchSeconds: ${row.name}`, () => {
      expect(fetchSeconds(row.size, row.bw)).toBeCloseTo(row.seconds, 9);
    });
  }
  it('canFetch compares against the deadline and trusts an unmeasured link', () => {
    expect(canFetch(100e6, { type: 'wifi', bandwidthMbps: 100 }, 8)).toBe(true);
    expect(canFetch(100e6, { type: 'wifi', bandwidthMbps: 100 }, 7.9)).toBe(false);
    expect(canFetch(100e6, { type: 'wifi' }, 1)).toBe(true);
    expect(canFetch(100e6, undefined, 1)).toBe(true);
  });
  it('isLiteLink follows the deployment list', () => {
    expect(isLiteLink(['cellular-4g', 'lora'], { type: 'lora' })).toBe(true);
    expect(isLiteLink(['cellular-4g', 'lora'], { type: 'ethernet' })).toBe(false);
    expect(isLiteLink(['cellular-4g'], undefined)).toBe(false);
  });
});

describe('prediction helpers', () => {
  it('predicts ms from GFLOP, TOPS and efficiency', () => {
    // 4 GFLOP on 2 TOPS at 50 %: 4e9 / 1e12 s = 4 ms.
    expect(predictP99Ms(4, 2, 0.5)).toBeCloseTo(4, 12);
    expect(joulesPerInference(30, 4)).toBeCloseTo(0.12, 12);
  });
  it('supports a precision only when listed with TOPS above zero', () => {
    expect(supports(gpu(), 'int8')).toBe(true);
    expect(supports(cpu(), 'fp16')).toBe(false);
    expect(supports(gpu({ tops: { fp32: 10, fp16: 0 } }), 'fp16')).toBe(false);
    expect(supports(gpu({ precisions: ['fp32'] }), 'int8')).toBe(false);
  });
});

describe('SegmentedHeap', () => {
  it('always tops each segment with its best live item', () => {
    const op = fc.record({ kind: fc.constantFrom('insert', 'remove', 'rekey'), item: fc.nat(29), key: fc.integer({ min: -50, max: 50 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const segOf = Int32Array.from({ length: 30 }, (_, i) => i % 3);
        const key = new Float64Array(30);
        // Ties go to the lower item.
        const heap = new SegmentedHeap(segOf, 3, key, Int32Array.from({ length: 30 }, (_, i) => i));
        const live = new Set<number>();
        for (const { kind, item, key: k } of ops) {
          if (kind === 'insert' && !live.has(item)) {
            key[item] = k;
            heap.insert(item);
            live.add(item);
          } else if (kind === 'remove') {
            heap.remove(item);
            live.delete(item);
          } else if (kind === 'rekey' && live.has(item)) {
            key[item] = k;
            heap.update(item);
          }
          for (let s = 0; s < 3; s++) {
            const members = [...live].filter((i) => i % 3 === s).sort((a, b) => key[b]! - key[a]! || a - b);
            expect(heap.top(s)).toBe(members[0] ?? -1);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
