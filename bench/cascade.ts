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
// recogniser instead of quantizing into a temporary folder), --rows FILE (write every line's
// scores, edits and times as JSON, for analysis).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { ESCALATION_RULE_KINDS, type EscalationRule, type EscalationRuleKind } from '@edgeplane/api';
import { numberFlag, type Bench } from './run.ts';
import { ctcScores, type CtcScore } from '../agent/src/cascade/score.ts';
import { decide, fullBucket, type BucketState, type BudgetLimits } from '../agent/src/cascade/decide.ts';
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
function hardness(kind: Signal, s: CtcScore): number {
  switch (kind) {
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

/** The rule kinds, and two more CTC signals measured for comparison only. */
type Signal = EscalationRuleKind | 'weakestStep' | 'pathProbability';
const SIGNALS: readonly Signal[] = [...ESCALATION_RULE_KINDS, 'weakestStep', 'pathProbability'];

/** The cut on a signal that escalates `share` of these rows: rows below it are hard (ties stay at the edge). */
function cutFor(kind: Signal, rows: readonly Row[], share: number): number {
  const values = rows.map((r) => hardness(kind, r.score)).sort((a, b) => a - b);
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

const bench: Bench = async ({ argv, log }) => {
  const calibrationCount = numberFlag(argv, 'calibration', 800);
  const testCount = numberFlag(argv, 'test', 1000);
  const targetShare = numberFlag(argv, 'target-share', 0.28);
  const threads = numberFlag(argv, 'threads', 1);
  const given = stringFlag(argv, 'models-dir');
  const loadBefore = loadavg().map(r2);
  log(`load average ${loadBefore.join(' ')}`);
  const work = given ? undefined : mkdtempSync(join(tmpdir(), 'ep-bench-cascade-'));
  try {
    const dir = given ?? join(work!, 'rec');
    if (!given) {
      await quantizeModel(ppocrFile('rec'), {
        out: dir,
        name: 'ppocr-v4-rec',
        task: 'rec',
        shape: new Map([['x', [...SHAPE]]]),
        calibration: { method: 'minmax', percentile: 99.99, samples: 64 },
        log,
      });
    }
    const manifest = readManifest(dir);
    const file = (name: string) => {
      const v = manifest.variants.find((x) => x.name === name);
      if (!v) throw new Error(`${dir} has no ${name} variant`);
      return join(dir, v.file);
    };
    const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' };
    const edge = await ort.InferenceSession.create(file('int8-static'), options);
    const big = await ort.InferenceSession.create(file('fp32'), options);
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
    // Warm both sessions up so first-run allocation is not in the latency.
    const warm = lineTensor(lines[0]!.image, SHAPE[2], SHAPE[3]);
    for (let i = 0; i < 5; i++) {
      await infer(edge, warm);
      await infer(big, warm);
    }

    const rows: Row[] = [];
    for (const [i, line] of lines.entries()) {
      const { image, kind } = degrade(line.image, rand);
      const input = lineTensor(image, SHAPE[2], SHAPE[3]);
      const e = await infer(edge, input);
      const c0 = cpuMs();
      const t0 = performance.now();
      const score = ctcScores({ shape: e.dims, data: e.data })[0]!;
      const scoreMs = performance.now() - t0;
      const scoreCpu = cpuMs() - c0;
      const b = await infer(big, input);
      const [, steps, classes] = e.dims as [number, number, number];
      rows.push({
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
      if ((i + 1) % 200 === 0) log(`${i + 1}/${total} lines through both tiers`);
    }
    const calibration = rows.slice(0, calibrationCount);
    const test = rows.slice(calibrationCount);

    // Choose on the calibration part only: per rule kind the threshold for the target share,
    // then the kind whose cascade is most accurate there.
    const candidates = SIGNALS.map((kind) => {
      const cut = cutFor(kind, calibration, targetShare);
      const hard = (r: Row) => hardness(kind, r.score) < cut;
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

    // Every rule kind (and two signals that are not rule kinds) on the test part at its calibration threshold, for comparison.
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
    // The chosen signal at other escalated shares (each threshold again from the calibration
    // part), and the smallest share that comes within half a point of big on calibration.
    const atShare = (target: number) => {
      const cut = cutFor(best.kind, calibration, target);
      const hard = (r: Row) => hardness(best.kind, r.score) < cut;
      const acc = charAccuracy(test, (r) => (hard(r) ? r.bigEdits : r.edgeEdits));
      return { targetShare: target, threshold: r4(Math.abs(cut)), testEscalatedShare: r4(test.filter(hard).length / test.length), testAccuracy: pct(acc), belowBigPoints: r2(pct(bigAcc) - pct(acc)) };
    };
    const curve = [0.1, 0.2, 0.3, 0.35, 0.4, 0.5].map(atShare);
    const calibrationBig = charAccuracy(calibration, (r) => r.bigEdits);
    let halfPoint: ReturnType<typeof atShare> | null = null;
    for (let share = 0.01; share <= 1; share += 0.01) {
      const cut = cutFor(best.kind, calibration, share);
      const acc = charAccuracy(calibration, (r) => (hardness(best.kind, r.score) < cut ? r.bigEdits : r.edgeEdits));
      if (calibrationBig - acc <= 0.005) {
        halfPoint = atShare(Math.round(share * 100) / 100);
        break;
      }
    }
    const rowsFile = stringFlag(argv, 'rows');
    if (rowsFile) writeFileSync(rowsFile, JSON.stringify({ calibrationCount, rows }));
    const pctInterval = (i: { low: number; high: number }) => ({ low: pct(i.low), high: pct(i.high) });
    const gap = pct(bigAcc) - pct(cascadeAcc);
    const savings = 1 - uplinkCascade / uplinkAll;
    const loadAfter = loadavg().map(r2);
    return {
      bench: 'cascade',
      edge: 'ppocr-v4-rec int8-static (minmax 99.99, 64 calibration renders)',
      big: 'ppocr-v4-rec fp32',
      fonts: [...SAMPLE_FONTS],
      degradationMix: DEGRADATION_MIX,
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
      threads,
      signals,
      shareCurve: curve,
      shareForHalfPointOnCalibration: halfPoint,
      byDegradation: byKind,
      goal: {
        withinHalfPointOfBig: gap <= 0.5,
        atMost30PercentEscalated: share <= 0.3,
        atLeast70PercentFewerUplinkBytes: savings >= 0.7,
      },
      loadAverage: { before: loadBefore, after: loadAfter },
    };
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
};

export default bench;
