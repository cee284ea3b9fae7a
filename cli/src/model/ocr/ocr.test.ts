import { describe, expect, it } from 'vitest';
import { characterAccuracy, ctcGreedy, editDistance } from './ctc.ts';
import { iou, recall, unclip, type Box } from './boxes.ts';

describe('editDistance', () => {
  const rows = [
    { a: 'kitten', b: 'sitting', want: 3 },
    { a: '', b: 'abc', want: 3 },
    { a: 'same', b: 'same', want: 0 },
  ];
  for (const r of rows) it(`${r.a} -> ${r.b}`, () => expect(editDistance(r.a, r.b)).toBe(r.want));
  it('character accuracy is corpus-level', () => {
    expect(characterAccuracy([{ predicted: 'abcd', truth: 'abce' }, { predicted: 'xy', truth: 'xy' }])).toBeCloseTo(5 / 6);
  });
});

describe('ctcGreedy', () => {
  it('merges repeats and drops blanks and a trailing space', () => {
    const dict = ['', 'a', 'b', ' '];
    const steps = [1, 1, 0, 1, 2, 2, 3];
    const probs = new Float32Array(steps.length * 4);
    steps.forEach((c, t) => (probs[t * 4 + c] = 1));
    expect(ctcGreedy(probs, steps.length, 4, dict)).toBe('aab');
  });
});

describe('boxes', () => {
  it('iou and recall', () => {
    const a: Box = [0, 0, 10, 10];
    expect(iou(a, a)).toBe(1);
    expect(iou(a, [5, 0, 15, 10])).toBeCloseTo(1 / 3);
    expect(recall([a, [20, 20, 30, 30]], [[0, 0, 9, 10]])).toBe(0.5);
    expect(unclip([0, 0, 10, 10], 1.5)[0]).toBeLessThan(0);
  });
});
