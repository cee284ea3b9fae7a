import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.ts';
import { tinyModelBytes } from './testing/tiny-model.ts';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ep-cli-'));
  writeFileSync(join(work, 'tiny.onnx'), tinyModelBytes());
  writeFileSync(join(work, 'junk.onnx'), 'not a model\n'.repeat(10));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('edgeplane dispatcher', () => {
  const rows = [
    { name: 'unknown group', argv: ['nosuch'], code: 2, err: /usage: edgeplane/ },
    { name: 'unknown model command', argv: ['model', 'nosuch'], code: 2, err: /usage: edgeplane model/ },
    { name: 'unknown flag', argv: ['model', 'inspect', 'x.onnx', '--bogus'], code: 2, err: /BAD_ARGUMENT/ },
    { name: 'not an ONNX file', argv: ['model', 'inspect', 'JUNK'], code: 1, err: /NOT_ONNX/ },
    { name: 'dynamic shape without --shape', argv: ['model', 'inspect', 'TINY'], code: 1, err: /DYNAMIC_SHAPE/ },
    { name: 'profile of a folder without a manifest', argv: ['model', 'profile', 'WORK'], code: 1, err: /NOT_A_VARIANT_DIR/ },
    { name: 'quantize without --out', argv: ['model', 'quantize', 'TINY'], code: 2, err: /--out/ },
  ];
  for (const r of rows) {
    it(r.name, async () => {
      const argv = r.argv.map((a) => a.replace('JUNK', join(work, 'junk.onnx')).replace('TINY', join(work, 'tiny.onnx')).replace('WORK', work));
      const res = await cli(...argv);
      expect(res.code).toBe(r.code);
      expect(res.err).toMatch(r.err);
      expect(res.out).toBe('');
    });
  }

  it('inspect prints inputs, outputs, opset, operators and GFLOPs', async () => {
    const res = await cli('model', 'inspect', join(work, 'tiny.onnx'), '--shape', 'x=1x3x16x16', '--json');
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.out) as { opset: number; operators: Record<string, number>; gflops: number; outputs: { dims: number[] }[] };
    expect(summary.opset).toBe(11);
    expect(summary.operators.Conv).toBe(2);
    expect(summary.outputs[0]?.dims).toEqual([1, 10]);
    expect(summary.gflops).toBeGreaterThan(0.002);
  });
});
