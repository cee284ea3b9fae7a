// The PP-OCR direction classifier end to end: quantize, profile on generated labelled lines,
// and the spec.model block parsed by the shared EdgeModelDeployment schema.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EdgeModelDeploymentSpec, ModelVariant } from '@edgeplane/api';
import { ppocrFile } from '../ocr/models.ts';
import { quantizeModel } from '../quantize/pipeline.ts';
import type { Manifest } from '../manifest.ts';
import { profileDir, type ProfileResult } from './profile.ts';
import { modelBlock, modelBlockYaml } from './variants-yaml.ts';

let work: string;
let manifest: Manifest;
let result: ProfileResult;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ep-ppocr-cls-'));
  manifest = await quantizeModel(ppocrFile('cls'), {
    out: join(work, 'cls'),
    name: 'ppocr-v4-cls',
    shape: new Map([['x', [1, 3, 48, 192]]]),
    calibration: { method: 'percentile', percentile: 99.99, samples: 16 },
  });
  // 100 lines: one sample is one point of accuracy, enough to check a 2-point bound.
  result = await profileDir(join(work, 'cls'), { samples: 100, runs: 5, budgetMs: 500, threads: 1, seed: 2024 });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('PP-OCR direction classifier variants', () => {
  it('are recognised as a direction classifier and fused by ORT', () => {
    expect(manifest.task).toBe('cls');
    expect(manifest.staticFusion?.optimized.QLinearConv).toBeGreaterThan(40);
  });

  it('int8 weight-only is at most 0.3x the fp32 file', () => {
    const size = (name: string) => statSync(join(work, 'cls', manifest.variants.find((v) => v.name === name)?.file ?? '')).size;
    expect(size('int8') / size('fp32')).toBeLessThanOrEqual(0.3);
  });

  it('every variant runs and int8 direction accuracy is within 2 points of fp32', () => {
    const acc = new Map(result.variants.map((v) => [v.name, v.accuracy]));
    expect(result.variants.map((v) => v.name)).toEqual(['fp32', 'fp16', 'int8', 'int8-static']);
    const fp32 = acc.get('fp32') ?? 0;
    expect(fp32).toBeGreaterThan(0.8);
    for (const name of ['fp16', 'int8', 'int8-static']) expect(Math.abs((acc.get(name) ?? 0) - fp32)).toBeLessThanOrEqual(0.02);
    for (const v of result.variants) {
      expect(v.latency.map((l) => l.batch)).toEqual([1, 8]);
      expect(v.memoryMiB).toBeGreaterThanOrEqual(1);
    }
  });

  it('writes a spec.model block that parses with the EdgeModelDeployment schema', () => {
    const yaml = modelBlockYaml(modelBlock(result, (file) => `file://${join(work, 'cls', file)}`), result);
    const parsed = parse(yaml) as { model: { variants: unknown[] } };
    const spec = EdgeModelDeploymentSpec.parse({ model: parsed.model, slo: { latencyMs: 50 } });
    expect(spec.model.variants).toHaveLength(4);
    for (const v of parsed.model.variants) expect(ModelVariant.safeParse(v).success).toBe(true);
    expect(spec.model.variants.find((v) => v.name === 'int8')?.profile).toBe('lite');
  });
});
