// Which score a task's output has, the score of a whole answer, and what the answer says (to
// count escalations that changed it). Pure: no I/O, no clock.
//
// A batch goes upward as a whole, so an answer is as hard as its hardest row: the lowest
// confidence and margin, the highest entropy over its rows (or lines).
import type { WireTensor } from '../runtime/tensors.ts';
import { ScoreInputError } from './errors.ts';
import { classificationScores, ctcScores, outputView, type OutputView, type Score } from './score.ts';

/** How an output is scored: softmax over classes, or CTC over time steps (class 0 the blank). */
export type ScorerKind = 'classification' | 'ctc';

/**
 * The scorer of a deployment's `task`: CTC for text recognition (`text-recognition`,
 * `ocr-recognition`, `rec`, anything naming `ctc`), softmax for classification
 * (`classification`, `text-direction-classification`, `cls`); null for any other task
 * (detection, regression), whose answers are never escalated (`unsupported`).
 */
export function scorerFor(task: string): ScorerKind | null {
  const t = task.trim().toLowerCase();
  if (t === 'rec' || t.includes('recognition') || /(^|[^a-z])ctc([^a-z]|$)/.test(t)) return 'ctc';
  if (t === 'cls' || t.includes('classification') || t.includes('classifier')) return 'classification';
  return null;
}

function firstOutput(outputs: readonly WireTensor[]): WireTensor {
  const first = outputs[0];
  if (!first) throw new ScoreInputError('(none)', 'is missing: the model returned no output');
  return first;
}

/** The hardest row's score: what the rule is checked against. */
export function answerScore(kind: ScorerKind, outputs: readonly WireTensor[]): Score {
  const t = firstOutput(outputs);
  const view = outputView(t);
  const rows: Score[] = kind === 'ctc' ? ctcScores(view, { name: t.name }) : classificationScores(view, t.name);
  return rows.reduce((hardest, s) => ({
    confidence: Math.min(hardest.confidence, s.confidence),
    margin: Math.min(hardest.margin, s.margin),
    entropy: Math.max(hardest.entropy, s.entropy),
  }));
}

function argmaxRows(view: OutputView, classes: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < view.data.length; at += classes) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (view.data[at + c]! > view.data[at + best]!) best = c;
    out.push(best);
  }
  return out;
}

/**
 * What an answer says, as a string two answers can be compared by: the top class of each row
 * (classification), the greedy CTC reading of each line as class indices, repeats merged and
 * blanks dropped (text recognition). Softmax and logits give the same key.
 */
export function answerKey(kind: ScorerKind, outputs: readonly WireTensor[]): string {
  const t = firstOutput(outputs);
  const view = outputView(t);
  const classes = view.shape.at(-1) ?? 0;
  if (classes < 1 || view.data.length % classes !== 0) throw new ScoreInputError(t.name, `has shape [${view.shape.join(',')}]: no class dimension to read`);
  const best = argmaxRows(view, classes);
  if (kind === 'classification') return best.join(',');
  if (view.shape.length < 2) throw new ScoreInputError(t.name, `has rank ${view.shape.length}, expected 2 or 3`);
  const steps = view.shape.at(-2)!;
  const lines: string[] = [];
  for (let at = 0; at < best.length; at += steps) {
    const read: number[] = [];
    let previous = -1;
    for (const c of best.slice(at, at + steps)) {
      if (c !== 0 && c !== previous) read.push(c);
      previous = c;
    }
    lines.push(read.join(' '));
  }
  return lines.join('|');
}

/** True when the two answers say different things; false when either cannot be read. */
export function answersDiffer(kind: ScorerKind, edge: readonly WireTensor[], escalated: readonly WireTensor[]): boolean {
  try {
    return answerKey(kind, edge) !== answerKey(kind, escalated);
  } catch {
    return false;
  }
}
