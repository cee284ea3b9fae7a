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
import { agreement, decode, makeSamples, score, TASK_LABEL, type Prediction, type Sample } from '../ocr/tasks.ts';
import { loadDictionary } from '../ocr/ctc.ts';
import { openSession, run } from '../runtime.ts';
import { sha256 } from '../quantize/pipeline.ts';
import { loadedMemoryMiB } from './memory.ts';
import { round, timeRuns, type Latency } from './stats.ts';

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

export async function profileDir(dir: string, options: ProfileOptions = DEFAULT_PROFILE): Promise<ProfileResult> {
  const log = options.log ?? (() => {});
  const manifest = readManifest(dir);
  const dims = manifest.inputShape;
  const samples = makeSamples(manifest.task, dims, options.samples, options.seed);
  const dict = manifest.task === 'rec' ? loadDictionary() : undefined;
  const ordered = [...manifest.variants].sort((a, b) => (a.precision === 'fp32' ? -1 : b.precision === 'fp32' ? 1 : 0));
  let reference: Prediction[] | undefined;
  const variants: VariantProfile[] = [];
  for (const v of ordered) {
    const path = join(dir, v.file);
    const bytes = readFileSync(path);
    const gflops = analyse(decodeModel(bytes, path), new Map([['', dims]])).summary.gflops;
    const session = await openSession(path, { threads: options.threads });
    const predictions: Prediction[] = [];
    try {
      for (const s of samples) {
        const out = [...(await run(session, s.input, dims)).values()][0];
        if (!out) throw new Error(`${v.file} produced no float output`);
        predictions.push(decode(manifest.task, out, dict));
      }
      reference ??= predictions;
      const latency: Latency[] = [];
      for (const batch of dims[0] === 1 ? [1, 8] : [dims[0] ?? 1]) {
        const input = batched(samples, batch, dims);
        latency.push(await timeRuns(() => run(session, input.data, input.dims), batch, batch === 1 ? options.runs : Math.ceil(options.runs / 4), options.budgetMs));
      }
      const agree = agreement(reference, predictions);
      const accuracy = score(manifest.task, samples, predictions) ?? agree;
      const memoryMiB = await loadedMemoryMiB(resolve(path), dims);
      const p: VariantProfile = {
        name: v.name,
        precision: v.precision,
        profile: v.profile,
        file: v.file,
        method: v.method,
        sizeBytes: bytes.byteLength,
        sha256: sha256(bytes),
        gflops: round(gflops, 4),
        memoryMiB,
        accuracy: round(accuracy, 4),
        agreementWithFp32: round(agree, 4),
        latency,
      };
      log(`${manifest.model} ${v.name}: ${p.sizeBytes} bytes, accuracy ${p.accuracy}, agreement ${p.agreementWithFp32}, ${latency.map((l) => `b${l.batch} p50 ${l.p50Ms} ms p99 ${l.p99Ms} ms`).join(', ')}, ${memoryMiB} MiB`);
      variants.push(p);
    } finally {
      await session.release();
    }
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
