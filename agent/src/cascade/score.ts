// How sure the edge model is of its answer, read from its output tensor as the agent holds it:
// confidence, margin and entropy, each in [0, 1]. Pure: no I/O, no clock.
//
// A classifier's output is [..., C]: one score per batch row. A CTC recogniser's output is
// [B, T, C] or [T, C] (per time step a distribution over C classes, class `blank` the CTC
// blank): one score per line. Rows that do not sum to 1 are taken as logits and softmaxed.
import { float16ToFloat32 } from '@edgeplane/api';
import type { WireTensor } from '../runtime/tensors.ts';
import { ScoreInputError } from './errors.ts';

/** An output as plain numbers with its shape. */
export interface OutputView {
  shape: readonly number[];
  data: Float32Array;
}

export interface Score {
  /** Top probability (classifier); mean probability of the emitted characters (CTC). */
  confidence: number;
  /** Top minus second probability (classifier); the smallest such margin over every time step, blanks included (CTC). */
  margin: number;
  /** Entropy over ln(C), in [0, 1] (classifier); the largest per time step (CTC). */
  entropy: number;
}

export interface CtcScore extends Score {
  /** Characters emitted (steps whose best class is not the blank, before repeats merge). */
  characterSteps: number;
  /** The smallest top probability over every time step, blanks included. */
  weakestStep: number;
  /** Probability of the best path: the product of every step's top probability, blanks included. */
  pathProbability: number;
}

/**
 * Probabilities at or below this are not put through a log one by one: their mass m, spread over
 * n classes, adds at most m ln(n / m) to the entropy, and that bound is added instead. On the
 * PP-OCR recogniser's 6,625 classes this skips about nine logs in ten.
 */
const TAIL = 1e-6;
/** A row whose values lie in [0, 1] and sum to 1 within this is already a distribution. */
const SUM_TOLERANCE = 1e-3;

/** The output's numbers, from FP32 or FP16 wire bytes. */
export function outputView(t: WireTensor): OutputView {
  const count = t.shape.reduce((n, d) => n * d, 1);
  if (t.datatype === 'FP32') {
    if (t.data.byteLength !== count * 4) throw new ScoreInputError(t.name, `has ${t.data.byteLength} bytes, shape [${t.shape.join(',')}] needs ${count * 4}`);
    // Float32Array needs 4-byte alignment: copy when the bytes sit at an odd offset (a copy made
    // with new Uint8Array: a Node Buffer's slice() is a view of its pool, not a copy).
    const data = t.data.byteOffset % 4 === 0 ? new Float32Array(t.data.buffer, t.data.byteOffset, count) : new Float32Array(new Uint8Array(t.data).buffer);
    return { shape: t.shape, data };
  }
  if (t.datatype === 'FP16') {
    if (t.data.byteLength !== count * 2) throw new ScoreInputError(t.name, `has ${t.data.byteLength} bytes, shape [${t.shape.join(',')}] needs ${count * 2}`);
    const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = float16ToFloat32(view.getUint16(2 * i, true));
    return { shape: t.shape, data };
  }
  throw new ScoreInputError(t.name, `is ${t.datatype}; a score needs FP32 or FP16 probabilities or logits`);
}

interface Step {
  top: number;
  second: number;
  best: number;
  entropy: number;
}

/** Entropy of a distribution from its head's sum of -p ln p and its tail's mass and size. */
function entropyOf(head: number, tailMass: number, tailCount: number, classes: number): number {
  const tail = tailMass > 0 && tailCount > 0 ? tailMass * Math.log(tailCount / tailMass) : 0;
  return classes > 1 ? Math.min(1, Math.max(0, (head + tail) / Math.log(classes))) : 0;
}

/**
 * Top, second, argmax and normalised entropy of data[offset .. offset + classes), softmaxed if
 * it is not a distribution; one pass over a distribution, since this runs on every answer.
 */
function step(name: string, data: Float32Array, offset: number, classes: number): Step {
  let top = Number.NEGATIVE_INFINITY;
  let second = Number.NEGATIVE_INFINITY;
  let best = 0;
  let sum = 0;
  let head = 0;
  let tailMass = 0;
  let tailCount = 0;
  let distribution = true;
  for (let c = 0; c < classes; c++) {
    const p = data[offset + c]!;
    if (p > top) {
      second = top;
      top = p;
      best = c;
    } else if (p > second) second = p;
    sum += p;
    if (p > TAIL) {
      if (p > 1) distribution = false;
      else head -= p * Math.log(p);
    } else if (p >= 0) {
      tailMass += p;
      tailCount++;
    } else if (p < 0) distribution = false;
    else throw new ScoreInputError(name, `holds a value that is not a number at index ${offset + c}`);
  }
  if (!Number.isFinite(sum)) throw new ScoreInputError(name, `holds a value that is not finite near index ${offset}`);
  if (distribution && Math.abs(sum - 1) <= SUM_TOLERANCE) {
    return { top, second: Math.max(0, second), best, entropy: entropyOf(head, tailMass, tailCount, classes) };
  }
  // Logits: softmax around the top value so nothing overflows.
  let z = 0;
  for (let c = 0; c < classes; c++) z += Math.exp(data[offset + c]! - top);
  head = 0;
  tailMass = 0;
  tailCount = 0;
  for (let c = 0; c < classes; c++) {
    const p = Math.exp(data[offset + c]! - top) / z;
    if (p > TAIL) head -= p * Math.log(p);
    else {
      tailMass += p;
      tailCount++;
    }
  }
  return { top: 1 / z, second: classes > 1 ? Math.exp(second - top) / z : 0, best, entropy: entropyOf(head, tailMass, tailCount, classes) };
}

function checkShape(name: string, view: OutputView, minRank: number, maxRank: number): void {
  const { shape, data } = view;
  if (shape.length < minRank || shape.length > maxRank) throw new ScoreInputError(name, `has rank ${shape.length}, expected ${minRank === maxRank ? minRank : `${minRank} to ${maxRank}`}`);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new ScoreInputError(name, `has shape [${shape.join(',')}]: every dimension must be a positive integer`);
  const count = shape.reduce((n, d) => n * d, 1);
  if (data.length !== count) throw new ScoreInputError(name, `has ${data.length} values, shape [${shape.join(',')}] needs ${count}`);
}

/** One score per row of a softmax (or logits) classifier output [..., C]. */
export function classificationScores(view: OutputView, name = 'output'): Score[] {
  checkShape(name, view, 1, 8);
  const classes = view.shape.at(-1)!;
  if (classes < 2) throw new ScoreInputError(name, 'has one class: nothing to be unsure between');
  const rows = view.data.length / classes;
  const out: Score[] = [];
  for (let r = 0; r < rows; r++) {
    const s = step(name, view.data, r * classes, classes);
    out.push({ confidence: s.top, margin: s.top - s.second, entropy: s.entropy });
  }
  return out;
}

/**
 * One score per line of a CTC recogniser output [B, T, C] or [T, C]. A line with no character
 * at all has confidence 0: an empty reading of a text crop is a failure more often than not.
 */
export function ctcScores(view: OutputView, options: { blank?: number; name?: string } = {}): CtcScore[] {
  const name = options.name ?? 'output';
  checkShape(name, view, 2, 3);
  const [batch, steps, classes] = view.shape.length === 3 ? (view.shape as [number, number, number]) : [1, view.shape[0]!, view.shape[1]!];
  const blank = options.blank ?? 0;
  if (!Number.isInteger(blank) || blank < 0 || blank >= classes) throw new ScoreInputError(name, `has ${classes} classes; blank index ${blank} is not one of them`);
  if (classes < 2) throw new ScoreInputError(name, 'has one class: nothing to be unsure between');
  const out: CtcScore[] = [];
  for (let b = 0; b < batch; b++) {
    let charSum = 0;
    let characterSteps = 0;
    let margin = 1;
    let entropy = 0;
    let weakestStep = 1;
    let logPath = 0;
    for (let t = 0; t < steps; t++) {
      const s = step(name, view.data, (b * steps + t) * classes, classes);
      if (s.best !== blank) {
        charSum += s.top;
        characterSteps++;
      }
      margin = Math.min(margin, s.top - s.second);
      entropy = Math.max(entropy, s.entropy);
      weakestStep = Math.min(weakestStep, s.top);
      logPath += Math.log(Math.max(s.top, Number.MIN_VALUE));
    }
    out.push({ confidence: characterSteps ? charSum / characterSteps : 0, margin, entropy, characterSteps, weakestStep, pathProbability: Math.exp(logPath) });
  }
  return out;
}
