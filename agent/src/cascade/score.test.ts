import { float32ToFloat16 } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import { classificationScores, ctcScores, outputView } from './score.ts';
import { ScoreInputError } from './errors.ts';

const view = (shape: number[], values: number[]) => ({ shape, data: Float32Array.from(values) });

describe('classificationScores', () => {
  it('reads confidence, margin and normalised entropy from probabilities', () => {
    const [s] = classificationScores(view([1, 4], [0.7, 0.2, 0.1, 0]));
    expect(s!.confidence).toBeCloseTo(0.7, 6);
    expect(s!.margin).toBeCloseTo(0.5, 6);
    const h = -(0.7 * Math.log(0.7) + 0.2 * Math.log(0.2) + 0.1 * Math.log(0.1)) / Math.log(4);
    expect(s!.entropy).toBeCloseTo(h, 6);
  });

  it('a uniform row has entropy 1 and margin 0; a one-hot row entropy 0 and margin 1', () => {
    const [u, o] = classificationScores(view([2, 4], [0.25, 0.25, 0.25, 0.25, 0, 1, 0, 0]));
    expect(u!.entropy).toBeCloseTo(1, 6);
    expect(u!.margin).toBeCloseTo(0, 6);
    expect(o).toEqual({ confidence: 1, margin: 1, entropy: 0 });
  });

  it('softmaxes logits, giving the same score as the probabilities', () => {
    const logits = [2, 1, -1];
    const z = logits.reduce((s, x) => s + Math.exp(x), 0);
    const [fromLogits] = classificationScores(view([3], logits));
    const [fromProbs] = classificationScores(view([3], logits.map((x) => Math.exp(x) / z)));
    expect(fromLogits!.confidence).toBeCloseTo(fromProbs!.confidence, 6);
    expect(fromLogits!.margin).toBeCloseTo(fromProbs!.margin, 6);
    expect(fromLogits!.entropy).toBeCloseTo(fromProbs!.entropy, 5);
  });

  it('large logits do not overflow', () => {
    const [s] = classificationScores(view([2], [1000, 990]));
    expect(s!.confidence).toBeCloseTo(1 / (1 + Math.exp(-10)), 6);
  });

  it('refuses a tensor whose size does not match its shape, one class, or NaN, naming the output', () => {
    expect(() => classificationScores(view([2, 3], [0.5, 0.5]), 'softmax_0')).toThrow(/output softmax_0 has 2 values/);
    expect(() => classificationScores(view([1, 1], [1]))).toThrow(ScoreInputError);
    expect(() => classificationScores(view([2], [Number.NaN, 1]))).toThrow(/not a number/);
    expect(() => classificationScores(view([2], [Number.POSITIVE_INFINITY, 1]))).toThrow(/not finite/);
  });

  it('bounds the tail of tiny probabilities instead of taking each log, within 1e-3 of the exact entropy', () => {
    const tail = 998;
    const tiny = 1e-8;
    const probs = [0.9, 0.05, 0.05 - tail * tiny, ...Array.from({ length: tail }, () => tiny)];
    const exact = -probs.reduce((a, p) => a + p * Math.log(p), 0) / Math.log(probs.length);
    const [s] = classificationScores(view([probs.length], probs));
    expect(s!.entropy).toBeGreaterThanOrEqual(exact - 1e-6);
    expect(s!.entropy - exact).toBeLessThan(1e-3);
  });
});

/** A [T, C] CTC output from per-step distributions. */
function ctc(steps: number[][]): { shape: number[]; data: Float32Array } {
  return view([steps.length, steps[0]!.length], steps.flat());
}

describe('ctcScores', () => {
  it('confidence is the mean top probability of the character steps; margin and entropy the worst over all steps', () => {
    // blank, 'a' at 0.9, blank at 0.55 (a near-deletion), 'b' at 0.7
    const out = ctc([
      [0.98, 0.01, 0.01],
      [0.05, 0.9, 0.05],
      [0.55, 0.4, 0.05],
      [0.2, 0.1, 0.7],
    ]);
    const [s] = ctcScores(out);
    expect(s!.characterSteps).toBe(2);
    expect(s!.confidence).toBeCloseTo((0.9 + 0.7) / 2, 6);
    // The weakest decision is the blank step that nearly emitted an 'a'.
    expect(s!.margin).toBeCloseTo(0.15, 6);
    expect(s!.weakestStep).toBeCloseTo(0.55, 6);
    expect(s!.pathProbability).toBeCloseTo(0.98 * 0.9 * 0.55 * 0.7, 6);
    const h = (p: number[]) => -p.reduce((a, x) => a + x * Math.log(x), 0) / Math.log(3);
    expect(s!.entropy).toBeCloseTo(Math.max(h([0.55, 0.4, 0.05]), h([0.2, 0.1, 0.7])), 6);
  });

  it('a line read as nothing has confidence 0', () => {
    const [s] = ctcScores(ctc([[0.99, 0.005, 0.005], [0.99, 0.005, 0.005]]));
    expect(s!.confidence).toBe(0);
    expect(s!.characterSteps).toBe(0);
  });

  it('scores each line of a batch [B, T, C] on its own', () => {
    const sure = [[0.01, 0.98, 0.01], [0.98, 0.01, 0.01]];
    const unsure = [[0.3, 0.4, 0.3], [0.98, 0.01, 0.01]];
    const scores = ctcScores(view([2, 2, 3], [...sure.flat(), ...unsure.flat()]));
    expect(scores).toHaveLength(2);
    expect(scores[0]!.confidence).toBeCloseTo(0.98, 6);
    expect(scores[1]!.confidence).toBeCloseTo(0.4, 6);
  });

  it('honours another blank index and refuses one out of range', () => {
    const out = ctc([[0.1, 0.1, 0.8]]);
    expect(ctcScores(out, { blank: 2 })[0]!.characterSteps).toBe(0);
    expect(() => ctcScores(out, { blank: 3, name: 'softmax_2.tmp_0' })).toThrow(/output softmax_2.tmp_0 has 3 classes; blank index 3/);
  });

  it('refuses rank 1 or 4', () => {
    expect(() => ctcScores(view([3], [0.2, 0.3, 0.5]))).toThrow(/rank 1, expected 2 to 3/);
    expect(() => ctcScores(view([1, 1, 1, 2], [0.5, 0.5]))).toThrow(ScoreInputError);
  });
});

describe('outputView', () => {
  it('reads FP32 wire bytes, aligned or not', () => {
    const f = Float32Array.from([0.25, 0.75]);
    const bytes = new Uint8Array(f.buffer);
    expect([...outputView({ name: 'y', datatype: 'FP32', shape: [1, 2], data: bytes }).data]).toEqual([0.25, 0.75]);
    const odd = new Uint8Array(9);
    odd.set(bytes, 1);
    expect([...outputView({ name: 'y', datatype: 'FP32', shape: [2], data: odd.subarray(1) }).data]).toEqual([0.25, 0.75]);
  });

  it('reads FP16 wire bytes', () => {
    const bytes = new Uint8Array(4);
    const dv = new DataView(bytes.buffer);
    dv.setUint16(0, float32ToFloat16(0.25), true);
    dv.setUint16(2, float32ToFloat16(0.75), true);
    expect([...outputView({ name: 'y', datatype: 'FP16', shape: [2], data: bytes }).data]).toEqual([0.25, 0.75]);
  });

  it('reads a Node Buffer view at an odd offset (as a NATS reply arrives), not the pool around it', () => {
    const pool = Buffer.alloc(64, 0xff);
    Buffer.from(Float32Array.from([0.25, 0.75]).buffer).copy(pool, 3);
    const view = outputView({ name: 'y', datatype: 'FP32', shape: [1, 2], data: pool.subarray(3, 11) });
    expect(Array.from(view.data)).toEqual([0.25, 0.75]);
  });

  it('refuses an integer output or a short buffer, naming it', () => {
    expect(() => outputView({ name: 'labels', datatype: 'INT64', shape: [1], data: new Uint8Array(8) })).toThrow(/output labels is INT64/);
    expect(() => outputView({ name: 'y', datatype: 'FP32', shape: [4], data: new Uint8Array(8) })).toThrow(/has 8 bytes/);
  });
});
