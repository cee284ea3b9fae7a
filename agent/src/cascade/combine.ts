// A combined hard-example signal for CTC text recognition: a logistic model over a few cues of
// the edge's score (mean character probability, weakest step, best-path probability, length),
// fitted offline on labelled lines where the big tier's answer is known, then evaluated here in
// pure code (a handful of logs and one exp a line). Pure: no I/O, no clock.
import type { CtcScore } from './score.ts';

/** The cues, in the order the weights follow. */
export const COMBINED_FEATURES = ['logitConfidence', 'logitWeakestStep', 'logPathProbability', 'logCharacterSteps'] as const;

export interface CombinedSignal {
  bias: number;
  /** One weight per COMBINED_FEATURES entry, on the raw (unstandardised) cues. */
  weights: readonly number[];
}

const EPS = 1e-6;
const logit = (p: number) => {
  const q = Math.min(1 - EPS, Math.max(EPS, p));
  return Math.log(q / (1 - q));
};

export function combinedFeatures(s: CtcScore): number[] {
  return [logit(s.confidence), logit(s.weakestStep), Math.log(Math.max(1e-30, s.pathProbability)), Math.log1p(s.characterSteps)];
}

/** The modelled probability that the big tier reads this line better; higher is harder. */
export function escalationGain(signal: CombinedSignal, s: CtcScore): number {
  const x = combinedFeatures(s);
  let z = signal.bias;
  for (let i = 0; i < x.length; i++) z += (signal.weights[i] ?? 0) * x[i]!;
  return 1 / (1 + Math.exp(-z));
}

export interface FitOptions {
  /** L2 penalty on the standardised weights. */
  l2?: number;
  iterations?: number;
}

/**
 * Weighted logistic regression by gradient descent on standardised features, the result folded
 * back onto the raw cues. `labels[i]` true: the big tier reads line i better.
 */
export function fitCombined(scores: readonly CtcScore[], labels: readonly boolean[], weights: readonly number[], options: FitOptions = {}): CombinedSignal {
  const l2 = options.l2 ?? 1e-3;
  const iterations = options.iterations ?? 2000;
  const xs = scores.map(combinedFeatures);
  const d = COMBINED_FEATURES.length;
  const n = xs.length;
  const mean = Array.from({ length: d }, (_, j) => xs.reduce((s, x) => s + x[j]!, 0) / Math.max(1, n));
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(xs.reduce((s, x) => s + (x[j]! - mean[j]!) ** 2, 0) / Math.max(1, n)) || 1);
  const zs = xs.map((x) => x.map((v, j) => (v - mean[j]!) / std[j]!));
  const totalWeight = weights.reduce((s, w) => s + w, 0) || 1;
  const w = new Array<number>(d).fill(0);
  let b = 0;
  const rate = 0.5;
  for (let it = 0; it < iterations; it++) {
    const gw = new Array<number>(d).fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let z = b;
      for (let j = 0; j < d; j++) z += w[j]! * zs[i]![j]!;
      const err = (1 / (1 + Math.exp(-z)) - (labels[i] ? 1 : 0)) * weights[i]!;
      for (let j = 0; j < d; j++) gw[j]! += err * zs[i]![j]!;
      gb += err;
    }
    for (let j = 0; j < d; j++) w[j] = w[j]! - rate * (gw[j]! / totalWeight + l2 * w[j]!);
    b -= (rate * gb) / totalWeight;
  }
  const raw = w.map((v, j) => v / std[j]!);
  return { bias: b - raw.reduce((s, v, j) => s + v * mean[j]!, 0), weights: raw };
}
