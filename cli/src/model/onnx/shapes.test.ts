import { describe, expect, it } from 'vitest';
import { analyse } from './analyse.ts';
import { broadcast, parseShapeFlag, windowOut } from './shapes.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { isModelError, type ModelErrorCode } from '../errors.ts';

function codeOf(fn: () => unknown): ModelErrorCode | undefined {
  try {
    fn();
  } catch (err) {
    if (isModelError(err)) return err.code;
    throw err;
  }
  return undefined;
}

describe('windowOut', () => {
  const rows = [
    { name: '3x3 same padding', args: [48, 3, 1, 1, 1, 1, false] as const, want: 48 },
    { name: 'stride 2', args: [48, 3, 2, 1, 1, 1, false] as const, want: 24 },
    { name: '2x2 pool', args: [24, 2, 2, 0, 0, 1, false] as const, want: 12 },
    { name: 'ceil mode', args: [5, 2, 2, 0, 0, 1, true] as const, want: 3 },
    { name: 'dilation 2', args: [10, 3, 1, 0, 0, 2, false] as const, want: 6 },
  ];
  for (const r of rows) {
    const [size, kernel, stride, padBegin, padEnd, dilation, ceil] = r.args;
    it(r.name, () => expect(windowOut(size, kernel, stride, padBegin, padEnd, dilation, ceil)).toBe(r.want));
  }
});

describe('broadcast', () => {
  it('follows numpy rules', () => {
    expect(broadcast([2, 1, 4], [3, 1])).toEqual([2, 3, 4]);
    expect(broadcast([5], [])).toEqual([5]);
    expect(() => broadcast([2, 3], [4])).toThrow();
  });
});

describe('parseShapeFlag', () => {
  it('reads named and unnamed shapes', () => {
    expect(parseShapeFlag(['x=1x3x48x192', '2x8'])).toEqual(new Map([['x', [1, 3, 48, 192]], ['', [2, 8]]]));
  });
  it('refuses malformed dimensions', () => {
    expect(codeOf(() => parseShapeFlag(['x=1x0x3']))).toBe('BAD_SHAPE');
    expect(codeOf(() => parseShapeFlag(['x=axb']))).toBe('BAD_SHAPE');
  });
});

describe('analyse', () => {
  it('infers shapes and counts operations of the generated model', () => {
    const a = analyse(tinyModel(), new Map([['x', [1, 3, 16, 16]]]));
    expect(a.table.shapes.get('c1')).toEqual([1, 32, 16, 16]);
    expect(a.table.shapes.get('c2')).toEqual([1, 64, 8, 8]);
    expect(a.table.shapes.get('f')).toEqual([1, 64]);
    expect(a.summary.outputs[0]?.dims).toEqual([1, 10]);
    // Conv1: 2*32*16*16*27 (+bias), Conv2: 2*64*8*8*288 (+bias), MatMul 2*64*10, the rest per element.
    const convs = 2 * 32 * 256 * 27 + 32 * 256 + 2 * 64 * 64 * 288 + 64 * 64;
    expect(a.summary.gflops * 1e9).toBeGreaterThan(convs);
    expect(a.summary.gflops * 1e9).toBeLessThan(convs * 1.05);
  });
  const rows: { name: string; build: () => unknown; want: ModelErrorCode }[] = [
    { name: 'dynamic shape without --shape', build: () => analyse(tinyModel()), want: 'DYNAMIC_SHAPE' },
    { name: 'opset too old', build: () => analyse(tinyModel({ opset: 5 }), new Map([['', [1, 3, 16, 16]]])), want: 'UNSUPPORTED_OPSET' },
    { name: 'unknown operator', build: () => analyse(tinyModel({ reluOp: 'FancyActivation' }), new Map([['', [1, 3, 16, 16]]])), want: 'UNSUPPORTED_OPERATOR' },
    { name: 'shape contradicting a fixed dimension', build: () => analyse(tinyModel(), new Map([['', [1, 4, 16, 16]]])), want: 'BAD_SHAPE' },
  ];
  for (const r of rows) it(`refuses: ${r.name}`, () => expect(codeOf(r.build)).toBe(r.want));
});
