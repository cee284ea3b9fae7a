import { describe, expect, it } from 'vitest';
import type { WireTensor } from '../runtime/tensors.ts';
import { answerKey, answerScore, answersDiffer, scorerFor } from './task.ts';
import { ScoreInputError } from './errors.ts';

const fp32 = (shape: number[], values: number[]): WireTensor => ({ name: 'out', datatype: 'FP32', shape, data: new Uint8Array(Float32Array.from(values).buffer) });

describe('scorerFor', () => {
  it.each([
    ['text-direction-classification', 'classification'],
    ['classification', 'classification'],
    ['cls', 'classification'],
    ['text-recognition', 'ctc'],
    ['rec', 'ctc'],
    ['ocr ctc', 'ctc'],
    ['object-detection', null],
    ['regression', null],
    ['text-detection', null],
  ] as const)('%s reads as %s', (task, want) => {
    expect(scorerFor(task)).toBe(want);
  });
});

describe('answerScore', () => {
  it('a batch is as hard as its hardest row', () => {
    const s = answerScore('classification', [fp32([2, 2], [0.99, 0.01, 0.6, 0.4])]);
    expect(s.confidence).toBeCloseTo(0.6, 6);
    expect(s.margin).toBeCloseTo(0.2, 6);
    expect(s.entropy).toBeGreaterThan(0.9);
  });

  it('a CTC line scores its mean character probability', () => {
    // [1, 4 steps, 3 classes]: blank, char 1 at 0.9, blank, char 2 at 0.5.
    const s = answerScore('ctc', [fp32([1, 4, 3], [1, 0, 0, 0.05, 0.9, 0.05, 1, 0, 0, 0.25, 0.25, 0.5])]);
    expect(s.confidence).toBeCloseTo(0.7, 6);
  });

  it('no output, or one that is not a distribution of floats, is a typed error naming it', () => {
    expect(() => answerScore('classification', [])).toThrow(ScoreInputError);
    expect(() => answerScore('classification', [{ name: 'ids', datatype: 'INT64', shape: [1], data: new Uint8Array(8) }])).toThrow(/output ids is INT64/);
  });
});

describe('answerKey and answersDiffer', () => {
  it('classification: the top class per row; logits and probabilities agree', () => {
    expect(answerKey('classification', [fp32([2, 3], [0.1, 0.7, 0.2, 0.5, 0.2, 0.3])])).toBe('1,0');
    expect(answersDiffer('classification', [fp32([1, 2], [2, -1])], [fp32([1, 2], [0.8, 0.2])])).toBe(false);
    expect(answersDiffer('classification', [fp32([1, 2], [0.6, 0.4])], [fp32([1, 2], [0.3, 0.7])])).toBe(true);
  });

  it('CTC: the greedy reading, repeats merged and blanks dropped, so the same text on other steps is the same answer', () => {
    // 1 1 _ 2 reads "1 2"; 1 _ 2 2 reads "1 2" as well; 1 _ 1 2 reads "1 1 2".
    const read = (best: number[]) => fp32([1, best.length, 3], best.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 0.9 : 0.05))));
    expect(answerKey('ctc', [read([1, 1, 0, 2])])).toBe('1 2');
    expect(answersDiffer('ctc', [read([1, 1, 0, 2])], [read([1, 0, 2, 2])])).toBe(false);
    expect(answersDiffer('ctc', [read([1, 1, 0, 2])], [read([1, 0, 1, 2])])).toBe(true);
  });

  it('an answer that cannot be read counts as unchanged', () => {
    expect(answersDiffer('classification', [fp32([1, 2], [0.6, 0.4])], [])).toBe(false);
  });
});
