// `edgeplane model profile <dir>`: measures every variant in a quantize output folder on this
// host (size, sha256, GFLOPs, memory, latency at batch 1 and 8, accuracy on generated labelled
// samples, agreement with fp32) and writes the `spec.model` block of an EdgeModelDeployment.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import type { ModelVariant } from '@edgeplane/api';
import { analyse } from '../onnx/analyse.ts';
import { decodeModel } from '../onnx/proto.ts';
import { readManifest, type Manifest } from '../manifest.ts';
import { agreement, decode, makeSamples, score, scoreCounts, TASK_LABEL, type Prediction, type Sample } from '../ocr/tasks.ts';
import { loadDictionary } from '../ocr/ctc.ts';
import { openSession, run } from '../runtime.ts';
import { sha256 } from '../quantize/pipeline.ts';
import { loadedMemoryMiB } from './memory.ts';
import { percentile, round, wilson, type Interval, type Latency } from './stats.ts';
import type { Session } from '../runtime.ts';

export interface ProfileOptions {
  /** Labelled samples generated for accuracy (upright and turned lines alternate). */
  samples: number;
  /** Timed runs per batch size, each bounded by `budgetMs`. */
  runs: number;
  budgetMs: number;
  threads: number;
  seed: number;
  log?: (line: string) => void;
}

export const DEFAULT_PROFILE: ProfileOptions = { samples: 64, runs: 50, budgetMs: 5_000, threads: 1, seed: 2024 };

export interface VariantProfile {
  name: string;
  precision: ModelVariant['precision'];
  profile: ModelVariant['profile'];
  file: string;
  method: string;
  sizeBytes: number;
  sha256: string;
  gflops: number;
  memoryMiB: number;
  /** Task accuracy on the generated samples; for a generic model, agreement with fp32. */
  accuracy: number;
  /** What `accuracy` counts (lines, characters or boxes right out of all), when the task has labels. */
  accuracyCounts?: { correct: number; total: number };
  /** 95 % Wilson interval of `accuracy`. */
  accuracyInterval?: Interval;
  agreementWithFp32: number;
  latency: Latency[];
}

export interface ProfileResult {
  model: string;
  task: Manifest['task'];
  taskLabel: string;
  inputShape: number[];
  host: { cpu: string; threads: number };
  samples: number;
  variants: VariantProfile[];
}

function batched(samples: readonly Sample[], batch: number, dims: readonly number[]): { data: Float32Array; dims: number[] } {
  const size = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(size * batch);
  for (let b = 0; b < batch; b++) data.set(samples[b % samples.length]?.input ?? new Float32Array(size), b * size);
  return { data, dims: [batch, ...dims.slice(1)] };
}

/** Sorted run times per session; `runs` rounds at most, stopping once `budgetMs` is spent per variant. */
async function interleaved(sessions: readonly Session[], input: { data: Float32Array; dims: number[] }, runs: number, budgetMs: number): Promise<{ wall: number[]; cpu: number[] }[]> {
  for (const s of sessions) for (let w = 0; w < 2; w++) await run(s, input.data, input.dims);
  const times = sessions.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  const started = performance.now();
  for (let r = 0; r < runs && (r < 3 || performance.now() - started < budgetMs * sessions.length); r++) {
    for (const [i, s] of sessions.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await run(s, input.data, input.dims);
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      times[i]?.wall.push(wall);
      times[i]?.cpu.push((cpu.user + cpu.system) / 1000);
    }
  }
  for (const t of times) {
    t.wall.sort((a, b) => a - b);
    t.cpu.sort((a, b) => a - b);
  }
  return times;
}

export async function profileDir(dir: string, options: ProfileOptions = DEFAULT_PROFILE): Promise<ProfileResult> {
  const log = options.log ?? (() => {});
  const manifest = readManifest(dir);
  const dims = manifest.inputShape;
  const samples = makeSamples(manifest.task, dims, options.samples, options.seed);
  const dict = manifest.task === 'rec' ? loadDictionary() : undefined;
  const ordered = [...manifest.variants].sort((a, b) => (a.precision === 'fp32' ? -1 : b.precision === 'fp32' ? 1 : 0));
  let reference: Prediction[] | undefined;
  const variants: VariantProfile[] = [];
  const sessions: Session[] = [];
  try {
    for (const v of ordered) {
      const path = join(dir, v.file);
      const bytes = readFileSync(path);
      const gflops = analyse(decodeModel(bytes, path), new Map([['', dims]])).summary.gflops;
      const session = await openSession(path, { threads: options.threads });
      sessions.push(session);
      const predictions: Prediction[] = [];
      for (const s of samples) {
        const out = [...(await run(session, s.input, dims)).values()][0];
        if (!out) throw new Error(`${v.file} produced no float output`);
        predictions.push(decode(manifest.task, out, dict));
      }
      reference ??= predictions;
      const agree = agreement(reference, predictions);
      const counts = scoreCounts(manifest.task, samples, predictions);
      variants.push({
        name: v.name,
        precision: v.precision,
        profile: v.profile,
        file: v.file,
        method: v.method,
        sizeBytes: bytes.byteLength,
        sha256: sha256(bytes),
        gflops: round(gflops, 4),
        memoryMiB: await loadedMemoryMiB(resolve(path), dims),
        accuracy: round(score(manifest.task, samples, predictions) ?? agree, 4),
        ...(counts ? { accuracyCounts: counts, accuracyInterval: { low: round(wilson(counts.correct, counts.total).low, 4), high: round(wilson(counts.correct, counts.total).high, 4) } } : {}),
        agreementWithFp32: round(agree, 4),
        latency: [],
      });
    }
    // Latency with the variants interleaved run by run, so that load from other processes on
    // a shared host falls on every variant alike instead of on whichever ran first.
    for (const batch of dims[0] === 1 ? [1, 8] : [dims[0] ?? 1]) {
      const input = batched(samples, batch, dims);
      const times = await interleaved(sessions, input, batch === 1 ? options.runs : Math.ceil(options.runs / 4), options.budgetMs);
      times.forEach((t, i) =>
        variants[i]?.latency.push({ batch, runs: t.wall.length, p50Ms: round(percentile(t.wall, 50)), p99Ms: round(percentile(t.wall, 99)), cpuP50Ms: round(percentile(t.cpu, 50)) }),
      );
    }
  } finally {
    for (const s of sessions) await s.release();
  }
  for (const p of variants) {
    log(`${manifest.model} ${p.name}: ${p.sizeBytes} bytes, accuracy ${p.accuracy}, agreement ${p.agreementWithFp32}, ${p.latency.map((l) => `b${l.batch} p50 ${l.p50Ms} ms p99 ${l.p99Ms} ms cpu ${l.cpuP50Ms} ms`).join(', ')}, ${p.memoryMiB} MiB`);
  }
  return {
    model: manifest.model,
    task: manifest.task,
    taskLabel: TASK_LABEL[manifest.task],
    inputShape: dims,
    host: { cpu: cpus()[0]?.model ?? 'unknown', threads: options.threads },
    samples: samples.length,
    variants,
  };
}
