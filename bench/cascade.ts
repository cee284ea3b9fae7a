// `npm run bench -- cascade --json`: joint inference across tiers on a real accuracy gap. The
// PP-OCR v4 recogniser quantized to int8-static is the edge tier, the fp32 original the big
// tier. Labelled lines rendered in the three sample fonts are degraded (blur, noise, low
// contrast), run through both tiers on every line, and scored with the agent's own
// score and decide code. The first part of the lines (calibration) chooses the signal and its
// threshold for a target escalated share; the disjoint rest (test) is where every figure comes
// from. Character accuracy intervals are 95 % percentile bootstraps over lines.
//
// Flags: --calibration N (800), --test N (1000), --target-share X (0.28), --threads N (1),
// --models-dir DIR (reuse a `quantize` output holding fp32 and int8-static variants of the
// recogniser, calibrated on clean renders, instead of quantizing into a temporary folder),
// --edge-calibration auto|renders|deployment|rendersPercentile|deploymentPercentile (which int8
// edge heads the figures; all are measured in every run, and auto picks the one whose cascade
// is most accurate on the calibration part), --rows FILE (write every line's scores, edits and
// times as JSON).
//
// Four int8-static edges are built from the same fp32 model, differing only in how their
// activation ranges are calibrated: on the quantizer's generated clean line renders or on lines
// degraded with the benchmark's own mix (rendered from other seeds, so no line below is among
// them), each by min/max or by the central 99.9 % of values.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { ESCALATION_RULE_KINDS, type EscalationRule, type EscalationRuleKind } from '@edgeplane/api';
import { numberFlag, type Bench } from './run.ts';
import { ctcScores, type CtcScore } from '../agent/src/cascade/score.ts';
import { decide, fullBucket, type BucketState, type BudgetLimits } from '../agent/src/cascade/decide.ts';
import { escalationGain, fitCombined, type CombinedSignal } from '../agent/src/cascade/combine.ts';
import { ppocrFile } from '../cli/src/model/ocr/models.ts';
import { lineTensor } from '../cli/src/model/ocr/preprocess.ts';
import { ctcGreedy, editDistance, loadDictionary } from '../cli/src/model/ocr/ctc.ts';
import { quantizeModel } from '../cli/src/model/quantize/pipeline.ts';
import { readManifest } from '../cli/src/model/manifest.ts';
import { lineSamples } from '../cli/src/model/samples/lines.ts';
import { SAMPLE_FONTS } from '../cli/src/model/samples/font.ts';
import type { Gray } from '../cli/src/model/samples/image.ts';
import { seededRandom, type Random } from '../cli/src/random.ts';
import { percentile } from '../cli/src/model/profile/stats.ts';

const SHAPE = [1, 3, 48, 320] as const;
/** The request's input tensor as the agent forwards it upward: FP32 [1, 3, 48, 320]. */
const INPUT_BYTES = SHAPE.reduce((n: number, d) => n * d, 1) * 4;
/** A modelled uplink for the latency figures that include the transfer: a fair 4G uplink. */
const LINK = { mbps: 20, rttMs: 40 };

export const DEGRADATION_MIX =
  'half the lines as rendered (light noise of 12 grey levels); the other half blurred with a box of radius 1 (60 % of them) or 2 (40 %), ' +
  'contrast scaled to 0.35-1 around mid-grey, and uniform noise of 0-50 grey levels added';

function blur(img: Gray, r: number): Gray {
  const { width: w, height: h } = img;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let d = -r; d <= r; d++) {
        const xx = x + d;
        if (xx >= 0 && xx < w) {
          s += img.data[y * w + xx]!;
          n++;
        }
      }
      tmp[y * w + x] = s / n;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let d = -r; d <= r; d++) {
        const yy = y + d;
        if (yy >= 0 && yy < h) {
          s += tmp[yy * w + x]!;
          n++;
        }
      }
      out[y * w + x] = s / n;
    }
  }
  return { width: w, height: h, data: out };
}

/** One line of the mix in DEGRADATION_MIX; returns the image and what was done to it. */
function degrade(img: Gray, rand: Random): { image: Gray; kind: 'clean' | 'blur1' | 'blur2' } {
  const level = rand();
  if (level < 0.5) return { image: img, kind: 'clean' };
  const r = level < 0.8 ? 1 : 2;
  const g = blur(img, r);
  const contrast = 0.35 + rand() * 0.65;
  const noise = rand() * 50;
  const data = new Float32Array(g.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, 128 + (g.data[i]! - 128) * contrast + (rand() - 0.5) * noise));
  return { image: { width: g.width, height: g.height, data }, kind: r === 1 ? 'blur1' : 'blur2' };
}

interface Row {
  chars: number;
  kind: string;
  edgeEdits: number;
  bigEdits: number;
  score: CtcScore;
  edgeMs: number;
  bigMs: number;
  scoreMs: number;
  /** CPU time of the process for the edge run and score, and for the big run: steadier than wall time on a busy host. */
  edgeCpuMs: number;
  bigCpuMs: number;
}

/** The value a rule kind reads, oriented so that a smaller value is harder. */
function hardness(kind: Signal, s: CtcScore, combined?: CombinedSignal): number {
  switch (kind) {
    case 'combined':
      return combined ? -escalationGain(combined, s) : 0;
    case 'confidenceBelow':
      return s.confidence;
    case 'marginBelow':
      return s.margin;
    case 'entropyAbove':
      return -s.entropy;
    case 'weakestStep':
      return s.weakestStep;
    case 'pathProbability':
      return s.pathProbability;
  }
}

/**
 * The rule kinds, and three more CTC signals measured for comparison only: the weakest step, the
 * best-path probability, and `combined` (agent/src/cascade/combine.ts: a logistic model over
 * confidence, weakest step, path probability and length, fitted on the calibration part).
 */
type Signal = EscalationRuleKind | 'weakestStep' | 'pathProbability' | 'combined';
const SIGNALS: readonly Signal[] = [...ESCALATION_RULE_KINDS, 'weakestStep', 'pathProbability', 'combined'];

const EDGE_CALIBRATIONS = ['renders', 'deployment', 'rendersPercentile', 'deploymentPercentile'] as const;
type EdgeCalibration = (typeof EDGE_CALIBRATIONS)[number];
/** Each edge: the calibration inputs and how ranges are read from them (percentile keeps the central 99.9 %). */
const EDGE_SPECS: Record<EdgeCalibration, { inputs: 'renders' | 'deployment'; method: 'minmax' | 'percentile' }> = {
  renders: { inputs: 'renders', method: 'minmax' },
  deployment: { inputs: 'deployment', method: 'minmax' },
  rendersPercentile: { inputs: 'renders', method: 'percentile' },
  deploymentPercentile: { inputs: 'deployment', method: 'percentile' },
};
const PERCENTILE = 99.9;
/** Renders the quantizer calibrates the `deployment` edge on: a seed no benchmark line comes from. */
const DEPLOYMENT_CALIBRATION = { lines: 64, renderSeed: 17, degradeSeed: 1717 };

/** The cut on a signal that escalates `share` of these rows: rows below it are hard (ties stay at the edge). */
function cutFor(kind: Signal, rows: readonly Row[], share: number, combined?: CombinedSignal): number {
  const values = rows.map((r) => hardness(kind, r.score, combined)).sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.max(0, Math.round(share * values.length)))]!;
}

/** The resource's rule for a cut, its threshold kept inside (0, 1) as the resource requires. */
function ruleOf(kind: EscalationRuleKind, cut: number): EscalationRule {
  const clamp = (x: number) => Math.min(1 - 1e-9, Math.max(1e-9, x));
  return { kind, threshold: clamp(kind === 'entropyAbove' ? -cut : cut) };
}

function charAccuracy(rows: readonly Row[], edits: (r: Row) => number): number {
  let e = 0;
  let c = 0;
  for (const r of rows) {
    e += edits(r);
    c += r.chars;
  }
  return c ? Math.max(0, 1 - e / c) : 0;
}

/** 95 % percentile bootstrap over lines of each figure, resampling the same lines for all (paired). */
function bootstrap(rows: readonly Row[], figures: Record<string, (r: Row) => number>, resamples = 1000): Record<string, { low: number; high: number }> {
  const rand = seededRandom(4242);
  const names = Object.keys(figures);
  const draws: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const diffs: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const sample = Array.from({ length: rows.length }, () => rows[Math.floor(rand() * rows.length)]!);
    const values: Record<string, number> = {};
    for (const n of names) {
      values[n] = charAccuracy(sample, figures[n]!);
      draws[n]!.push(values[n]!);
    }
    diffs.push((values.cascade ?? 0) - (values.big ?? 0));
  }
  const interval = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { low: s[Math.floor(0.025 * s.length)]!, high: s[Math.ceil(0.975 * s.length) - 1]! };
  };
  return { ...Object.fromEntries(names.map((n) => [n, interval(draws[n]!)])), cascadeMinusBig: interval(diffs) };
}

const pct = (x: number) => Math.round(x * 10000) / 100;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r4 = (x: number) => Math.round(x * 10000) / 10000;

function stringFlag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Every figure of one edge against the big tier: the rule and the signal fitted on calibration, the rest on test. */
function analyse(rows: readonly Row[], calibrationCount: number, targetShare: number, log: (line: string) => void) {
  const calibration = rows.slice(0, calibrationCount);
  const test = rows.slice(calibrationCount);

  // The combined signal is fitted on the calibration part only: which lines the big tier reads
  // better, each weighted by how many edits it changes (at least one).
  const combined = fitCombined(
    calibration.map((r) => r.score),
    calibration.map((r) => r.bigEdits < r.edgeEdits),
    calibration.map((r) => Math.max(1, Math.abs(r.edgeEdits - r.bigEdits))),
  );

  // Choose on the calibration part only: per rule kind the threshold for the target share,
  // then the kind whose cascade is most accurate there.
  const candidates = SIGNALS.map((kind) => {
    const cut = cutFor(kind, calibration, targetShare, combined);
    const hard = (r: Row) => hardness(kind, r.score, combined) < cut;
    return { kind, cut, hard, calibrationAccuracy: charAccuracy(calibration, (r) => (hard(r) ? r.bigEdits : r.edgeEdits)) };
  });
  const ruleCandidates = candidates.filter((c): c is typeof c & { kind: EscalationRuleKind } => (ESCALATION_RULE_KINDS as readonly string[]).includes(c.kind));
  const best = ruleCandidates.reduce((a, b) => (b.calibrationAccuracy > a.calibrationAccuracy ? b : a));
  const chosen = { rule: ruleOf(best.kind, best.cut) };
  log(`calibration: ${candidates.map((c) => `${c.kind} cut ${r4(c.cut)} -> ${pct(c.calibrationAccuracy)}`).join('; ')}; chosen ${chosen.rule.kind}`);

  // The test part, through the agent's decision with a budget that never binds here (the
  // budget is the node's, not the benchmark's subject), time advancing by each line's cost.
  const limits: BudgetLimits = { requestsPerSecond: 1e6, bytesPerSecond: 1e12, meteredFactor: 1 };
  let bucket: BucketState = fullBucket(limits, 'unmetered', 0);
  let now = 0;
  const escalated: boolean[] = [];
  const cascadeMs: number[] = [];
  const cascadeMsWithLink: number[] = [];
  const cascadeCpuMs: number[] = [];
  const transferMs = LINK.rttMs + (INPUT_BYTES * 8) / (LINK.mbps * 1000);
  let decideMs = 0;
  for (const r of test) {
    const t0 = performance.now();
    const d = decide(chosen.rule, r.score, { bytes: INPUT_BYTES, nowMs: now, link: 'unmetered', limits, bucket });
    decideMs += performance.now() - t0;
    if (d.hard !== d.escalate) throw new Error(`the benchmark's budget bound (${d.reason}); it must not`);
    bucket = d.bucket;
    escalated.push(d.escalate);
    const ms = r.edgeMs + r.scoreMs + (d.escalate ? r.bigMs : 0);
    cascadeMs.push(ms);
    cascadeCpuMs.push(r.edgeCpuMs + (d.escalate ? r.bigCpuMs : 0));
    cascadeMsWithLink.push(ms + (d.escalate ? transferMs : 0));
    now += ms;
  }
  const isEscalated = new Map(test.map((r, i) => [r, escalated[i]!]));
  const cascadeEdits = (r: Row) => (isEscalated.get(r) ? r.bigEdits : r.edgeEdits);
  const share = escalated.filter(Boolean).length / test.length;
  const edgeAcc = charAccuracy(test, (r) => r.edgeEdits);
  const bigAcc = charAccuracy(test, (r) => r.bigEdits);
  const cascadeAcc = charAccuracy(test, cascadeEdits);
  const oracleAcc = charAccuracy(test, (r) => Math.min(r.edgeEdits, r.bigEdits));
  const ci = bootstrap(test, { edge: (r) => r.edgeEdits, big: (r) => r.bigEdits, cascade: cascadeEdits });
  const changed = test.filter((r) => isEscalated.get(r) && r.bigEdits !== r.edgeEdits).length;
  const uplinkCascade = escalated.filter(Boolean).length * INPUT_BYTES;
  const uplinkAll = test.length * INPUT_BYTES;
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const lat = sorted(cascadeMs);
  const latLink = sorted(cascadeMsWithLink);

  // Every signal on the test part at its calibration threshold, for comparison.
  const signals = Object.fromEntries(
    candidates.map((c) => {
      const hardRows = test.filter(c.hard);
      return [c.kind, { threshold: r4(Math.abs(c.cut)), calibrationAccuracy: pct(c.calibrationAccuracy), testAccuracy: pct(charAccuracy(test, (r) => (c.hard(r) ? r.bigEdits : r.edgeEdits))), testEscalatedShare: r4(hardRows.length / test.length) }];
      }),
  );
  const byKind = Object.fromEntries(
    ['clean', 'blur1', 'blur2'].map((k) => {
      const part = test.filter((r) => r.kind === k);
      return [k, { lines: part.length, edge: pct(charAccuracy(part, (r) => r.edgeEdits)), big: pct(charAccuracy(part, (r) => r.bigEdits)), cascade: pct(charAccuracy(part, cascadeEdits)), escalatedShare: r4(part.filter((r) => isEscalated.get(r)).length / Math.max(1, part.length)) }];
    }),
  );
  // A signal at other escalated shares (each threshold again from the calibration part), and
  // the smallest share that comes within half a point of big on calibration.
  const curveOf = (kind: Signal) => {
    const atShare = (target: number) => {
      const cut = cutFor(kind, calibration, target, combined);
      const hard = (r: Row) => hardness(kind, r.score, combined) < cut;
      const acc = charAccuracy(test, (r) => (hard(r) ? r.bigEdits : r.edgeEdits));
      return { targetShare: target, threshold: r4(Math.abs(cut)), testEscalatedShare: r4(test.filter(hard).length / test.length), testAccuracy: pct(acc), belowBigPoints: r2(pct(bigAcc) - pct(acc)) };
    };
    const curve = [0.1, 0.2, 0.3, 0.35, 0.4, 0.5].map(atShare);
    const calibrationBig = charAccuracy(calibration, (r) => r.bigEdits);
    let halfPoint: ReturnType<typeof atShare> | null = null;
    for (let s = 0.01; s <= 1; s += 0.01) {
      const cut = cutFor(kind, calibration, s, combined);
      const acc = charAccuracy(calibration, (r) => (hardness(kind, r.score, combined) < cut ? r.bigEdits : r.edgeEdits));
      if (calibrationBig - acc <= 0.005) {
        halfPoint = atShare(Math.round(s * 100) / 100);
        break;
      }
    }
    return { curve, halfPoint };
  };
  const chosenCurve = curveOf(best.kind);
  const combinedCurve = curveOf('combined');
  const pctInterval = (i: { low: number; high: number }) => ({ low: pct(i.low), high: pct(i.high) });
  const gap = pct(bigAcc) - pct(cascadeAcc);
  const savings = 1 - uplinkCascade / uplinkAll;
  return {
    calibrationCascadeAccuracy: best.calibrationAccuracy,
    figures: {
      calibrationLines: calibration.length,
      testLines: test.length,
      testCharacters: test.reduce((s, r) => s + r.chars, 0),
      targetShare,
      rule: { kind: chosen.rule.kind, threshold: r4(chosen.rule.threshold), chosenOn: 'calibration part' },
      edgeAccuracy: { value: pct(edgeAcc), interval95: pctInterval(ci.edge!) },
      bigAccuracy: { value: pct(bigAcc), interval95: pctInterval(ci.big!) },
      cascadeAccuracy: { value: pct(cascadeAcc), interval95: pctInterval(ci.cascade!) },
      cascadeMinusBigPoints: { value: r2(pct(cascadeAcc) - pct(bigAcc)), interval95: pctInterval(ci.cascadeMinusBig!) },
      oracleAccuracy: pct(oracleAcc),
      escalatedShare: r4(share),
      answersChangedByEscalation: changed,
      uplinkBytesPerInput: INPUT_BYTES,
      uplinkBytesCascade: uplinkCascade,
      uplinkBytesAllUp: uplinkAll,
      uplinkSavings: r4(savings),
      p50Ms: r2(percentile(lat, 50)),
      p99Ms: r2(percentile(lat, 99)),
      latencyExcludesUplinkTransfer: true,
      cpuP50Ms: r2(percentile(sorted(cascadeCpuMs), 50)),
      cpuP99Ms: r2(percentile(sorted(cascadeCpuMs), 99)),
      p50MsWithModelledUplink20MbpsRtt40Ms: r2(percentile(latLink, 50)),
      p99MsWithModelledUplink20MbpsRtt40Ms: r2(percentile(latLink, 99)),
      tierP50Ms: { edge: r2(percentile(sorted(test.map((r) => r.edgeMs)), 50)), big: r2(percentile(sorted(test.map((r) => r.bigMs)), 50)), score: r4(percentile(sorted(test.map((r) => r.scoreMs)), 50)), decideMeanUs: r2((1000 * decideMs) / test.length) },
      signals,
      combinedSignal: { features: ['logitConfidence', 'logitWeakestStep', 'logPathProbability', 'logCharacterSteps'], bias: r4(combined.bias), weights: combined.weights.map(r4), fittedOn: 'calibration part' },
      shareCurve: chosenCurve.curve,
      shareForHalfPointOnCalibration: chosenCurve.halfPoint,
      combinedShareCurve: combinedCurve.curve,
      combinedShareForHalfPointOnCalibration: combinedCurve.halfPoint,
      byDegradation: byKind,
      goal: {
        withinHalfPointOfBig: gap <= 0.5,
        atMost30PercentEscalated: share <= 0.3,
        atLeast70PercentFewerUplinkBytes: savings >= 0.7,
      },
    },
  };
}

const bench: Bench = async ({ argv, log }) => {
  const calibrationCount = numberFlag(argv, 'calibration', 800);
  const testCount = numberFlag(argv, 'test', 1000);
  const targetShare = numberFlag(argv, 'target-share', 0.28);
  const threads = numberFlag(argv, 'threads', 1);
  const given = stringFlag(argv, 'models-dir');
  const edgeChoice = stringFlag(argv, 'edge-calibration') ?? 'auto';
  if (edgeChoice !== 'auto' && !(EDGE_CALIBRATIONS as readonly string[]).includes(edgeChoice)) {
    throw new Error(`--edge-calibration must be auto, ${EDGE_CALIBRATIONS.join(' or ')}; got ${edgeChoice}`);
  }
  const loadBefore = loadavg().map(r2);
  log(`load average ${loadBefore.join(' ')}`);
  const work = mkdtempSync(join(tmpdir(), 'ep-bench-cascade-'));
  try {
    const quantize = (out: string, method: 'minmax' | 'percentile', inputs?: { tensors: Float32Array[]; source: string }) =>
      quantizeModel(ppocrFile('rec'), {
        out,
        name: 'ppocr-v4-rec',
        task: 'rec',
        shape: new Map([['x', [...SHAPE]]]),
        calibration: { method, percentile: method === 'minmax' ? 99.99 : PERCENTILE, samples: 64, inputs },
        log,
      });
    const dirs = Object.fromEntries(EDGE_CALIBRATIONS.map((k) => [k, join(work, k)])) as Record<EdgeCalibration, string>;
    if (given) dirs.renders = given;
    // The deployment's own kind of input: lines degraded with the same mix, from other seeds.
    const deployRand = seededRandom(DEPLOYMENT_CALIBRATION.degradeSeed);
    const deployTensors = lineSamples(DEPLOYMENT_CALIBRATION.lines, DEPLOYMENT_CALIBRATION.renderSeed, SAMPLE_FONTS, false).map((l) =>
      lineTensor(degrade(l.image, deployRand).image, SHAPE[2], SHAPE[3]),
    );
    for (const k of EDGE_CALIBRATIONS) {
      if (k === 'renders' && given) continue;
      const spec = EDGE_SPECS[k];
      await quantize(dirs[k], spec.method, spec.inputs === 'deployment' ? { tensors: deployTensors, source: `${DEPLOYMENT_CALIBRATION.lines} line renders degraded with the benchmark's mix (other seeds)` } : undefined);
    }

    const file = (dir: string, name: string) => {
      const v = readManifest(dir).variants.find((x) => x.name === name);
      if (!v) throw new Error(`${dir} has no ${name} variant`);
      return join(dir, v.file);
    };
    const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' };
    const edges = {} as Record<EdgeCalibration, ort.InferenceSession>;
    for (const k of EDGE_CALIBRATIONS) edges[k] = await ort.InferenceSession.create(file(dirs[k], 'int8-static'), options);
    const big = await ort.InferenceSession.create(file(dirs.renders, 'fp32'), options);
    const dict = loadDictionary();

    const total = calibrationCount + testCount;
    const rand = seededRandom(99);
    const lines = lineSamples(total, 5, SAMPLE_FONTS, false);
    log(`rendered ${total} lines in ${SAMPLE_FONTS.join(', ')}`);

    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const infer = async (s: ort.InferenceSession, input: Float32Array) => {
      const c0 = cpuMs();
      const t0 = performance.now();
      const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', input, [...SHAPE]) });
      const ms = performance.now() - t0;
      const t = out[s.outputNames[0]!]!;
      return { ms, cpu: cpuMs() - c0, data: t.data as Float32Array, dims: t.dims.map(Number) };
    };
    // Warm every session up so first-run allocation is not in the latency.
    const warm = lineTensor(lines[0]!.image, SHAPE[2], SHAPE[3]);
    for (let i = 0; i < 5; i++) {
      for (const k of EDGE_CALIBRATIONS) await infer(edges[k], warm);
      await infer(big, warm);
    }

    const rowsBy = Object.fromEntries(EDGE_CALIBRATIONS.map((k) => [k, [] as Row[]])) as Record<EdgeCalibration, Row[]>;
    for (const [i, line] of lines.entries()) {
      const { image, kind } = degrade(line.image, rand);
      const input = lineTensor(image, SHAPE[2], SHAPE[3]);
      const b = await infer(big, input);
      for (const k of EDGE_CALIBRATIONS) {
        const e = await infer(edges[k], input);
        const c0 = cpuMs();
        const t0 = performance.now();
        const score = ctcScores({ shape: e.dims, data: e.data })[0]!;
        const scoreMs = performance.now() - t0;
        const scoreCpu = cpuMs() - c0;
        const [, steps, classes] = e.dims as [number, number, number];
        rowsBy[k].push({
          chars: [...line.text].length,
          kind,
          edgeEdits: editDistance(ctcGreedy(e.data, steps, classes, dict), line.text),
          bigEdits: editDistance(ctcGreedy(b.data, steps, classes, dict), line.text),
          score,
          edgeMs: e.ms,
          bigMs: b.ms,
          scoreMs,
          edgeCpuMs: e.cpu + scoreCpu,
          bigCpuMs: b.cpu,
        });
      }
      if ((i + 1) % 200 === 0) log(`${i + 1}/${total} lines through both tiers (${EDGE_CALIBRATIONS.length} edges)`);
    }
    const results = Object.fromEntries(EDGE_CALIBRATIONS.map((k) => [k, analyse(rowsBy[k], calibrationCount, targetShare, (l) => log(`${k} edge: ${l}`))])) as Record<EdgeCalibration, ReturnType<typeof analyse>>;
    // Which edge heads the figures: chosen on the calibration part unless the flag names one.
    const head: EdgeCalibration =
      edgeChoice === 'auto' ? EDGE_CALIBRATIONS.reduce((a, b) => (results[b].calibrationCascadeAccuracy > results[a].calibrationCascadeAccuracy ? b : a)) : (edgeChoice as EdgeCalibration);
    const rowsFile = stringFlag(argv, 'rows');
    if (rowsFile) writeFileSync(rowsFile, JSON.stringify({ calibrationCount, rows: rowsBy }));
    const loadAfter = loadavg().map(r2);
    const summary = (k: EdgeCalibration) => {
      const f = results[k].figures;
      return {
        calibration: { inputs: EDGE_SPECS[k].inputs, method: EDGE_SPECS[k].method === 'minmax' ? 'minmax' : `percentile ${PERCENTILE}` },
        calibrationCascadeAccuracy: pct(results[k].calibrationCascadeAccuracy),
        rule: f.rule,
        edgeAccuracy: f.edgeAccuracy.value,
        cascadeAccuracy: f.cascadeAccuracy.value,
        cascadeMinusBigPoints: f.cascadeMinusBigPoints,
        escalatedShare: f.escalatedShare,
        uplinkSavings: f.uplinkSavings,
        oracleAccuracy: f.oracleAccuracy,
        combined: f.signals.combined,
        byDegradation: f.byDegradation,
        goal: f.goal,
      };
    };
    return {
      bench: 'cascade',
      edge: `ppocr-v4-rec int8-static (${EDGE_SPECS[head].method === 'minmax' ? 'minmax' : `percentile ${PERCENTILE}`}, 64 calibration inputs: ${EDGE_SPECS[head].inputs === 'renders' ? "the quantizer's clean line renders" : "line renders degraded with the benchmark's mix"})`,
      edgeCalibration: { head, chosenBy: edgeChoice === 'auto' ? 'cascade accuracy on the calibration part' : '--edge-calibration' },
      big: 'ppocr-v4-rec fp32',
      fonts: [...SAMPLE_FONTS],
      degradationMix: DEGRADATION_MIX,
      ...results[head].figures,
      threads,
      edgeCalibrations: Object.fromEntries(EDGE_CALIBRATIONS.map((k) => [k, summary(k)])),
      loadAverage: { before: loadBefore, after: loadAfter },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
};

export default bench;
