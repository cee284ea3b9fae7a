// CTC greedy decoding for the recogniser and the character accuracy measure.
import { readFileSync } from 'node:fs';
import { ppocrFile } from './models.ts';

/** Class index -> character: 0 is the CTC blank, then the dictionary, then a space. */
export function loadDictionary(path?: string): string[] {
  const file = path ?? ppocrFile('dictionary');
  const chars = readFileSync(file, 'utf8').split(/\r?\n/);
  if (chars.at(-1) === '') chars.pop();
  return ['', ...chars, ' '];
}

/** Best path per time step, repeats merged, blanks dropped. `probs` is [T, C] row-major. */
export function ctcGreedy(probs: Float32Array, steps: number, classes: number, dict: readonly string[]): string {
  let text = '';
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestP = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes; c++) {
      const p = probs[t * classes + c] ?? 0;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) text += dict[best] ?? '';
    previous = best;
  }
  // The space class closes many lines; reference strings never end in one.
  return text.trim();
}

export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) {
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (x[i - 1] === y[j - 1] ? 0 : 1)));
    }
    row = next;
  }
  return row[y.length] ?? 0;
}

/** 1 - (edits / reference characters) over a whole set, floored at 0. */
export function characterAccuracy(pairs: readonly { predicted: string; truth: string }[]): number {
  const chars = pairs.reduce((s, p) => s + [...p.truth].length, 0);
  const edits = pairs.reduce((s, p) => s + editDistance(p.predicted, p.truth), 0);
  return chars ? Math.max(0, 1 - edits / chars) : 0;
}
