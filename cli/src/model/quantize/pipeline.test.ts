import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelError, type ModelErrorCode } from '../errors.ts';
import { openSession, run } from '../runtime.ts';
import { tinyModelBytes, type TinyModelOptions } from '../testing/tiny-model.ts';
import { quantizeModel, type QuantizeOptions } from './pipeline.ts';

const SHAPE = new Map([['x', [1, 3, 16, 16]]]);
let work: string;

function options(out: string, extra: Partial<QuantizeOptions> = {}): QuantizeOptions {
  return { out, shape: SHAPE, calibration: { method: 'percentile', percentile: 99.99, samples: 4 }, ...extra };
}

function modelFile(name: string, opts: TinyModelOptions = {}): string {
  const file = join(work, `${name}.onnx`);
  writeFileSync(file, tinyModelBytes(opts));
  return file;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ep-quantize-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('quantize the generated model', () => {
  it('writes four variants that load and run, int8 at most 0.3x of fp32', async () => {
    const out = join(work, 'tiny');
    const manifest = await quantizeModel(modelFile('tiny'), options(out));
    expect(manifest.variants.map((v) => v.name)).toEqual(['fp32', 'fp16', 'int8', 'int8-static']);
    const size = (name: string) => statSync(join(out, manifest.variants.find((v) => v.name === name)?.file ?? '')).size;
    expect(size('int8') / size('fp32')).toBeLessThanOrEqual(0.3);
    expect(size('fp16') / size('fp32')).toBeLessThanOrEqual(0.55);
    expect(manifest.staticFusion?.fused).toBe(true);
    // The first Conv reads the raw input and the MatMul computes the logits: both stay float.
    expect(manifest.staticFusion?.optimized.QLinearConv).toBe(1);
    expect(manifest.staticFusion?.optimized.QLinearGlobalAveragePool).toBe(1);
    const input = Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.sin(i));
    const outputs: Float32Array[] = [];
    for (const v of manifest.variants) {
      const session = await openSession(join(out, v.file));
      const y = [...(await run(session, input, [1, 3, 16, 16])).values()][0];
      await session.release();
      expect(y?.dims).toEqual([1, 10]);
      outputs.push(y?.data ?? new Float32Array());
    }
    // Every variant computes nearly the same probabilities as fp32.
    for (const o of outputs.slice(1)) o.forEach((p, i) => expect(Math.abs(p - (outputs[0]?.[i] ?? 0))).toBeLessThan(0.05));
  });
});

describe('calibration on given input tensors', () => {
  it('calibrates on the tensors the caller passes and names their source in the manifest', async () => {
    const tensors = [0, 1, 2].map((k) => Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.cos(i + k)));
    const manifest = await quantizeModel(
      modelFile('given'),
      options(join(work, 'given'), { calibration: { method: 'minmax', percentile: 99.99, samples: 64, inputs: { tensors, source: 'three cosine inputs' } } }),
    );
    expect(manifest.calibration).toMatchObject({ samples: 3, source: 'three cosine inputs' });
  });
});

describe('bad input leaves no output behind', () => {
  const cases: { name: string; source: () => string; extra?: () => Partial<QuantizeOptions>; want: ModelErrorCode }[] = [
    {
      name: 'a file that is not ONNX',
      source: () => {
        const f = join(work, 'junk.onnx');
        writeFileSync(f, 'definitely not a protobuf model\n'.repeat(20));
        return f;
      },
      want: 'NOT_ONNX',
    },
    { name: 'an unsupported opset', source: () => modelFile('old', { opset: 5 }), want: 'UNSUPPORTED_OPSET' },
    { name: 'an unsupported operator', source: () => modelFile('odd', { reluOp: 'FancyActivation' }), want: 'UNSUPPORTED_OPERATOR' },
    { name: 'dynamic shapes and no --shape', source: () => modelFile('dyn'), extra: () => ({ shape: undefined }), want: 'DYNAMIC_SHAPE' },
    {
      name: 'an empty calibration set',
      source: () => modelFile('nocal'),
      extra: () => ({ calibration: { method: 'minmax', percentile: 99.99, samples: 0 } }),
      want: 'EMPTY_CALIBRATION',
    },
    {
      name: 'an empty calibration folder',
      source: () => modelFile('nocaldir'),
      extra: () => {
        const dir = join(work, 'empty-calibration');
        mkdirSync(dir, { recursive: true });
        return { calibration: { method: 'minmax', percentile: 99.99, samples: 8, dir } };
      },
      want: 'EMPTY_CALIBRATION',
    },
    {
      name: 'a given calibration tensor of the wrong size',
      source: () => modelFile('badcal'),
      extra: () => ({ calibration: { method: 'minmax', percentile: 99.99, samples: 8, inputs: { tensors: [new Float32Array(7)], source: 'wrong size' } } }),
      want: 'BAD_SHAPE',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const parent = join(work, `out-${c.want}`);
      mkdirSync(parent, { recursive: true });
      const out = join(parent, 'variants');
      let caught: unknown;
      try {
        await quantizeModel(c.source(), options(out, c.extra?.()));
      } catch (err) {
        caught = err;
      }
      expect(isModelError(caught, c.want), String(caught)).toBe(true);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(parent)).toEqual([]);
    });
  }
});
