// `npm run bench -- variants --json`: quantizes the PP-OCR direction classifier, text recogniser
// and text detector, profiles every variant on labelled samples rendered in three DejaVu
// typefaces, and reports per model the int8-static speed-up over fp32 at batch 1 (runs of the
// variants interleaved, CPU and wall time) and the accuracy drop with 95 % intervals.
// Flags: --cls-samples N (1000), --rec-samples N (1000), --det-samples N (100), --runs N (200),
// --threads N (1), --det-size N (320, square detector input), --models cls,rec,det.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberFlag, type Bench } from './run.ts';
import { ppocrFile } from '../cli/src/model/ocr/models.ts';
import { makeSamples, type Task } from '../cli/src/model/ocr/tasks.ts';
import { quantizeModel } from '../cli/src/model/quantize/pipeline.ts';
import { profileDir, type ProfileResult, type VariantProfile } from '../cli/src/model/profile/profile.ts';
import { ortProfile, type OrtProfile } from '../cli/src/model/profile/ort-profile.ts';
import { differenceInterval, type Interval } from '../cli/src/model/profile/stats.ts';
import { SAMPLE_FONTS } from '../cli/src/model/samples/font.ts';

function cpuFlags(): string[] {
  const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
  return flags.filter((f) => /vnni|amx|avx512f$|avx2|fp16/.test(f));
}

function stringFlag(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r2 = (x: number) => Math.round(x * 100) / 100;

interface ModelFigures {
  samples: number;
  int8Speedup: number;
  int8SpeedupWall: number;
  accuracyDropPoints: number;
  accuracyDropInterval: Interval;
  accuracy: Record<string, { value: number; interval?: Interval }>;
  batch1: Record<string, { wallP50Ms: number; cpuP50Ms: number }>;
  /** ORT's operator profile of fp32 and int8-static at batch 1 (kernel microseconds per run). */
  ortProfile?: Record<string, { modelRunP50Us: number; kernelUsPerRun: number; top: { op: string; usPerRun: number; nodes: number }[] }>;
}

function figures(result: ProfileResult, profiles: Map<string, OrtProfile>): ModelFigures {
  const v = (name: string): VariantProfile | undefined => result.variants.find((x) => x.name === name);
  const b1 = (name: string) => v(name)?.latency.find((l) => l.batch === 1);
  const fp32 = v('fp32');
  const int8 = v('int8-static');
  const counts = (x?: VariantProfile) => x?.accuracyCounts ?? { correct: 0, total: 0 };
  const diff = differenceInterval(counts(fp32), counts(int8));
  return {
    samples: result.samples,
    int8Speedup: r3((b1('fp32')?.cpuP50Ms ?? Number.NaN) / (b1('int8-static')?.cpuP50Ms ?? Number.NaN)),
    int8SpeedupWall: r3((b1('fp32')?.p50Ms ?? Number.NaN) / (b1('int8-static')?.p50Ms ?? Number.NaN)),
    accuracyDropPoints: r2(100 * ((fp32?.accuracy ?? 0) - (int8?.accuracy ?? 0))),
    accuracyDropInterval: { low: r2(100 * diff.low), high: r2(100 * diff.high) },
    accuracy: Object.fromEntries(result.variants.map((x) => [x.name, { value: x.accuracy, ...(x.accuracyInterval ? { interval: x.accuracyInterval } : {}) }])),
    batch1: Object.fromEntries(result.variants.map((x) => [x.name, { wallP50Ms: b1(x.name)?.p50Ms ?? Number.NaN, cpuP50Ms: b1(x.name)?.cpuP50Ms ?? Number.NaN }])),
    ...(profiles.size
      ? {
          ortProfile: Object.fromEntries(
            [...profiles].map(([name, p]) => [name, { modelRunP50Us: p.modelRunP50Us, kernelUsPerRun: p.kernelUsPerRun, top: p.ops.slice(0, 8).map((o) => ({ op: o.op, usPerRun: o.usPerRun, nodes: o.nodes })) }]),
          ),
        }
      : {}),
  };
}

const bench: Bench = async ({ argv, log }) => {
  const threads = numberFlag(argv, 'threads', 1);
  const runs = numberFlag(argv, 'runs', 200);
  const detSize = numberFlag(argv, 'det-size', 320);
  const wanted = new Set(stringFlag(argv, 'models', 'cls,rec,det').split(','));
  const work = mkdtempSync(join(tmpdir(), 'ep-bench-variants-'));
  const loadBefore = loadavg().map(r2);
  log(`cpu flags relevant to int8/fp16: ${cpuFlags().join(' ') || 'none'}; load average ${loadBefore.join(' ')}`);
  const models = [
    { key: 'cls' as Task, file: ppocrFile('cls'), name: 'ppocr-v4-cls', shape: [1, 3, 48, 192], calibration: 64, samples: numberFlag(argv, 'cls-samples', 1000) },
    { key: 'rec' as Task, file: ppocrFile('rec'), name: 'ppocr-v4-rec', shape: [1, 3, 48, 320], calibration: 64, samples: numberFlag(argv, 'rec-samples', 1000) },
    { key: 'det' as Task, file: ppocrFile('det'), name: 'ppocr-v4-det', shape: [1, 3, detSize, detSize], calibration: 16, samples: numberFlag(argv, 'det-samples', 100) },
  ].filter((m) => wanted.has(m.key));
  const results = new Map<string, ProfileResult>();
  const out: Record<string, ModelFigures> = {};
  const sizes = { fp32: 0, fp16: 0, int8: 0 };
  try {
    for (const m of models) {
      const dir = join(work, m.key);
      const manifest = await quantizeModel(m.file, {
        out: dir,
        name: m.name,
        task: m.key,
        shape: new Map([['x', [...m.shape]]]),
        calibration: { method: 'minmax', percentile: 99.99, samples: m.calibration },
        log,
      });
      log(`${m.name} int8-static after ORT optimisation: ${JSON.stringify(manifest.staticFusion?.optimized)}`);
      const result = await profileDir(dir, { samples: m.samples, runs, budgetMs: 20_000, threads, seed: 2024, log });
      results.set(m.key, result);
      // ORT's own operator profile at batch 1: where the time goes in fp32 and in int8.
      const profiles = new Map<string, OrtProfile>();
      const input = makeSamples(m.key, m.shape, 1, 7)[0]?.input ?? new Float32Array();
      for (const name of ['fp32', 'int8-static']) {
        const v = manifest.variants.find((x) => x.name === name);
        if (v) profiles.set(name, await ortProfile(join(dir, v.file), input, m.shape, m.key === 'det' ? 10 : 100, threads));
      }
      for (const [name, p] of profiles) log(`${m.name} ${name} ORT profile: model_run p50 ${p.modelRunP50Us} us, kernels ${p.kernelUsPerRun} us/run: ${p.ops.slice(0, 8).map((o) => `${o.op} ${o.usPerRun} (${o.nodes})`).join(', ')}`);
      out[m.key] = figures(result, profiles);
      log(`${m.key}: ${JSON.stringify(out[m.key])}`);
      if (m.key !== 'det') {
        for (const k of ['fp32', 'fp16', 'int8'] as const) sizes[k] += result.variants.find((x) => x.name === k)?.sizeBytes ?? 0;
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const loadAfter = loadavg().map(r2);
  return {
    bench: 'variants',
    fonts: [...SAMPLE_FONTS],
    loadAverage: { before: loadBefore, after: loadAfter },
    variants: out,
    ...(sizes.fp32 ? { int8SizeRatio: r3(sizes.int8 / sizes.fp32), fp16SizeRatio: r3(sizes.fp16 / sizes.fp32) } : {}),
    // Kept from earlier reports: the recogniser's batch-1 speed-up by CPU time.
    ...(out.rec ? { int8StaticSpeedup: out.rec.int8Speedup } : {}),
  };
};

export default bench;
