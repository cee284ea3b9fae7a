// `npm run bench -- variants --json`: quantizes the PP-OCR direction classifier and text
// recogniser, profiles every variant on generated labelled lines, and reports size ratios,
// the int8-static speed-up over fp32 measured in the same run, and accuracy per tier.
// Flags: --cls-samples N (200), --rec-samples N (100), --runs N (50), --threads N (1).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberFlag, type Bench } from './run.ts';
import { ppocrFile } from '../cli/src/model/ocr/models.ts';
import { quantizeModel } from '../cli/src/model/quantize/pipeline.ts';
import { profileDir, type ProfileResult } from '../cli/src/model/profile/profile.ts';

function cpuFlags(): string[] {
  const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
  return flags.filter((f) => /vnni|amx|avx512f$|avx2|fp16/.test(f));
}

const bench: Bench = async ({ argv, log }) => {
  const threads = numberFlag(argv, 'threads', 1);
  const runs = numberFlag(argv, 'runs', 50);
  const work = mkdtempSync(join(tmpdir(), 'ep-bench-variants-'));
  log(`cpu flags relevant to int8/fp16: ${cpuFlags().join(' ') || 'none'}`);
  const models = [
    { key: 'cls', file: ppocrFile('cls'), name: 'ppocr-v4-cls', shape: [1, 3, 48, 192], calibration: 64, samples: numberFlag(argv, 'cls-samples', 200) },
    { key: 'rec', file: ppocrFile('rec'), name: 'ppocr-v4-rec', shape: [1, 3, 48, 320], calibration: 32, samples: numberFlag(argv, 'rec-samples', 100) },
  ] as const;
  const results = new Map<string, ProfileResult>();
  try {
    for (const m of models) {
      const out = join(work, m.key);
      const manifest = await quantizeModel(m.file, {
        out,
        name: m.name,
        shape: new Map([['x', [...m.shape]]]),
        calibration: { method: 'percentile', percentile: 99.99, samples: m.calibration },
        log,
      });
      log(`${m.name} int8-static after ORT optimisation: ${JSON.stringify(manifest.staticFusion?.optimized)}`);
      results.set(m.key, await profileDir(out, { samples: m.samples, runs, budgetMs: 20_000, threads, seed: 2024, log }));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const variant = (key: string, name: string) => results.get(key)?.variants.find((v) => v.name === name);
  const bytes = (name: string) => ['cls', 'rec'].reduce((s, k) => s + (variant(k, name)?.sizeBytes ?? 0), 0);
  const p50 = (key: string, name: string, batch: number) => variant(key, name)?.latency.find((l) => l.batch === batch)?.p50Ms ?? Number.NaN;
  const cpu = (key: string, name: string, batch: number) => variant(key, name)?.latency.find((l) => l.batch === batch)?.cpuP50Ms ?? Number.NaN;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  for (const key of ['cls', 'rec']) {
    for (const batch of [1, 8]) {
      log(`${key} batch ${batch} p50 wall ms: ${['fp32', 'fp16', 'int8', 'int8-static'].map((n) => `${n} ${p50(key, n, batch)}`).join(', ')}; int8-static speed-up ${r3(p50(key, 'fp32', batch) / p50(key, 'int8-static', batch))}x`);
      log(`${key} batch ${batch} p50 cpu ms: ${['fp32', 'fp16', 'int8', 'int8-static'].map((n) => `${n} ${cpu(key, n, batch)}`).join(', ')}; int8-static speed-up ${r3(cpu(key, 'fp32', batch) / cpu(key, 'int8-static', batch))}x`);
    }
    log(`${key} accuracy: ${results.get(key)?.variants.map((v) => `${v.name} ${v.accuracy} (agreement ${v.agreementWithFp32})`).join(', ')}`);
  }
  const accuracy = (key: string) => ({
    fp32: variant(key, 'fp32')?.accuracy ?? 0,
    fp16: variant(key, 'fp16')?.accuracy ?? 0,
    int8: variant(key, 'int8')?.accuracy ?? 0,
  });
  return {
    bench: 'variants',
    int8SizeRatio: r3(bytes('int8') / bytes('fp32')),
    fp16SizeRatio: r3(bytes('fp16') / bytes('fp32')),
    // The recogniser carries the compute (1.46 GFLOPs vs 0.04): its batch-1 p50 decides.
    int8StaticSpeedup: r3(p50('rec', 'fp32', 1) / p50('rec', 'int8-static', 1)),
    accuracy: { cls: accuracy('cls'), rec: accuracy('rec') },
  };
};

export default bench;
