// What a model does, told from its output shape, and how each task is fed and scored on the
// generated samples: direction (cls), recognition (rec), detection (det), or generic.
import type { ModelSummary } from '../onnx/analyse.ts';
import { seededRandom } from '../../random.ts';
import { lineSamples, pageSamples, type LineSample, type PageSample } from '../samples/lines.ts';
import { characterAccuracy, ctcGreedy, editDistance, loadDictionary } from './ctc.ts';
import { lineTensor, pageTensor } from './preprocess.ts';
import { recall, regions, type Box } from './boxes.ts';

export const TASKS = ['cls', 'rec', 'det', 'generic'] as const;
export type Task = (typeof TASKS)[number];

/** The task name written into the deployment's `spec.model.task`. */
export const TASK_LABEL: Record<Task, string> = {
  cls: 'text-direction-classification',
  rec: 'text-recognition',
  det: 'text-detection',
  generic: 'generic',
};

export function detectTask(summary: ModelSummary): Task {
  const out = summary.outputs[0]?.dims ?? [];
  const input = summary.inputs[0]?.dims ?? [];
  if (input.length !== 4 || input[1] !== 3) return 'generic';
  if (out.length === 2 && out[1] === 2) return 'cls';
  if (out.length === 3 && (out[2] ?? 0) > 100) return 'rec';
  if (out.length === 4 && out[1] === 1 && out[2] === input[2] && out[3] === input[3]) return 'det';
  return 'generic';
}

/** One labelled input, already prepared as the model's input tensor (batch 1). */
export interface Sample {
  input: Float32Array;
  line?: LineSample;
  page?: PageSample;
}

/** Labelled samples for `task` at the model's input `dims` ([1, C, H, W]). */
export function makeSamples(task: Task, dims: readonly number[], count: number, seed: number): Sample[] {
  const [, , h = 1, w = 1] = dims;
  switch (task) {
    case 'cls':
    case 'rec':
      // The recogniser reads lines the classifier has already turned upright.
      return lineSamples(count, seed, undefined, task === 'cls').map((line) => ({ input: lineTensor(line.image, h, w), line }));
    case 'det':
      return pageSamples(count, w, h, seed).map((page) => ({ input: pageTensor(page.image, h, w), page }));
    case 'generic': {
      // No labels exist for an arbitrary model: uniform inputs, scored by agreement only.
      const rand = seededRandom(seed);
      const size = dims.reduce((a, b) => a * b, 1);
      return Array.from({ length: count }, () => ({ input: Float32Array.from({ length: size }, () => rand() * 2 - 1) }));
    }
  }
}

/** A decoded prediction, comparable across variants. */
export type Prediction = { kind: 'cls'; rotated: boolean } | { kind: 'rec'; text: string } | { kind: 'det'; boxes: Box[] } | { kind: 'raw'; argmax: number };

export function decode(task: Task, output: { data: Float32Array; dims: number[] }, dict?: readonly string[]): Prediction {
  switch (task) {
    case 'cls':
      return { kind: 'cls', rotated: (output.data[1] ?? 0) > (output.data[0] ?? 0) };
    case 'rec':
      return { kind: 'rec', text: ctcGreedy(output.data, output.dims[1] ?? 0, output.dims[2] ?? 0, dict ?? loadDictionary()) };
    case 'det':
      return { kind: 'det', boxes: regions(output.data, output.dims[3] ?? 0, output.dims[2] ?? 0) };
    case 'generic': {
      let best = 0;
      for (let i = 1; i < output.data.length; i++) if ((output.data[i] ?? 0) > (output.data[best] ?? 0)) best = i;
      return { kind: 'raw', argmax: best };
    }
  }
}

/**
 * Task accuracy as a count, for confidence intervals: lines with the right direction (cls),
 * reference characters minus edits on the upright lines (rec), ground-truth boxes found at
 * IoU 0.5 (det); for generic models, undefined.
 */
export function scoreCounts(task: Task, samples: readonly Sample[], predictions: readonly Prediction[]): { correct: number; total: number } | undefined {
  switch (task) {
    case 'cls':
      return { correct: samples.filter((s, i) => { const p = predictions[i]; return p?.kind === 'cls' && p.rotated === s.line?.rotated; }).length, total: samples.length };
    case 'rec': {
      let total = 0;
      let edits = 0;
      samples.forEach((s, i) => {
        const p = predictions[i];
        if (!s.line || s.line.rotated || p?.kind !== 'rec') return;
        total += [...s.line.text].length;
        edits += editDistance(p.text, s.line.text);
      });
      return { correct: Math.max(0, total - edits), total };
    }
    case 'det': {
      let total = 0;
      let found = 0;
      samples.forEach((s, i) => {
        const p = predictions[i];
        const truth = s.page?.boxes ?? [];
        total += truth.length;
        if (p?.kind === 'det') found += Math.round(recall(truth, p.boxes) * truth.length);
      });
      return { correct: found, total };
    }
    case 'generic':
      return undefined;
  }
}

/**
 * Task accuracy over the samples: direction accuracy (cls), character accuracy on the upright
 * lines (rec), recall of text boxes at IoU 0.5 (det); for generic models, undefined.
 */
export function score(task: Task, samples: readonly Sample[], predictions: readonly Prediction[]): number | undefined {
  switch (task) {
    case 'cls':
      return samples.filter((s, i) => { const p = predictions[i]; return p?.kind === 'cls' && p.rotated === s.line?.rotated; }).length / samples.length;
    case 'rec': {
      const pairs = samples.flatMap((s, i) => {
        const p = predictions[i];
        return s.line && !s.line.rotated && p?.kind === 'rec' ? [{ predicted: p.text, truth: s.line.text }] : [];
      });
      return characterAccuracy(pairs);
    }
    case 'det':
      return samples.reduce((sum, s, i) => { const p = predictions[i]; return sum + (p?.kind === 'det' ? recall(s.page?.boxes ?? [], p.boxes) : 0); }, 0) / samples.length;
    case 'generic':
      return undefined;
  }
}

/** How often a variant's decoded output equals the fp32 model's on the same input. */
export function agreement(reference: readonly Prediction[], other: readonly Prediction[]): number {
  if (!reference.length) return 1;
  const same = reference.filter((r, i) => {
    const o = other[i];
    if (!o || o.kind !== r.kind) return false;
    if (r.kind === 'cls' && o.kind === 'cls') return r.rotated === o.rotated;
    if (r.kind === 'rec' && o.kind === 'rec') return r.text === o.text;
    if (r.kind === 'raw' && o.kind === 'raw') return r.argmax === o.argmax;
    if (r.kind === 'det' && o.kind === 'det') return recall(r.boxes, o.boxes) === 1 && r.boxes.length === o.boxes.length;
    return false;
  }).length;
  return same / reference.length;
}
