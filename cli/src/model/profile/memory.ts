// Resident memory of a loaded variant: measured in a fresh process, so sessions measured
// earlier (and this process's own heap) do not blur the figure.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';

const PROBE = `
const [ortPath, model, dims] = process.argv.slice(1);
const ort = require(ortPath);
const shape = JSON.parse(dims);
const before = process.memoryUsage().rss;
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, shape) });
process.stdout.write(String(process.memoryUsage().rss - before));
`;

/** MiB that loading `model` and running it once at `dims` adds to a process. */
export function loadedMemoryMiB(model: string, dims: readonly number[]): Promise<number> {
  const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
  const code = `const { createRequire } = await import('node:module'); const require = createRequire(${JSON.stringify(ortPath)});${PROBE}`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code, ortPath, model, JSON.stringify(dims)], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`memory probe failed: ${stderr || err.message}`));
      else resolve(Math.max(1, Math.ceil(Number(stdout) / 2 ** 20)));
    });
  });
}
