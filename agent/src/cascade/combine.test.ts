import { describe, expect, it } from 'vitest';
import { COMBINED_FEATURES, escalationGain, fitCombined } from './combine.ts';
import type { CtcScore } from './score.ts';

const score = (confidence: number, characterSteps = 10): CtcScore => ({ confidence, margin: 0.5, entropy: 0.1, characterSteps, weakestStep: confidence * 0.9, pathProbability: confidence ** characterSteps });

describe('combined escalation signal', () => {
  it('learns that low confidence is where the big tier helps, and ranks lines by it', () => {
    const scores: CtcScore[] = [];
    const labels: boolean[] = [];
    for (let i = 0; i < 200; i++) {
      const c = 0.5 + (0.49 * i) / 199;
      scores.push(score(c, 5 + (i % 20)));
      labels.push(c < 0.8);
    }
    const signal = fitCombined(scores, labels, scores.map(() => 1));
    expect(signal.weights).toHaveLength(COMBINED_FEATURES.length);
    expect(escalationGain(signal, score(0.6))).toBeGreaterThan(0.5);
    expect(escalationGain(signal, score(0.97))).toBeLessThan(0.5);
    expect(escalationGain(signal, score(0.6))).toBeGreaterThan(escalationGain(signal, score(0.75)));
  });

  it('stays finite on degenerate scores (probability 0 or 1, no characters)', () => {
    const signal = fitCombined([score(1, 0), score(0, 0)], [false, true], [1, 1]);
    const g = escalationGain(signal, { confidence: 0, margin: 0, entropy: 1, characterSteps: 0, weakestStep: 0, pathProbability: 0 });
    expect(Number.isFinite(g)).toBe(true);
  });
});
