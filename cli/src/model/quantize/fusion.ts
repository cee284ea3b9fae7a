// Which kernels ONNX Runtime actually runs: let it write its optimised graph and count nodes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeModel } from '../onnx/proto.ts';
import { openSession } from '../runtime.ts';

export interface FusionReport {
  /** Node types in the graph ORT runs after its optimisations, with counts. */
  optimized: Record<string, number>;
  /** True when any quantized kernel (QLinear*, ConvInteger, MatMulInteger...) was produced. */
  fused: boolean;
  qlinear: number;
  /** Q/DQ nodes left unfused (each a float conversion at run time). */
  remainingQdq: number;
}

const QUANTIZED_KERNEL = /^(QLinear|ConvInteger|MatMulInteger|DynamicQuantize|QGemm|MatMulIntegerToFloat)/;

export async function ortFusion(modelBytes: Uint8Array): Promise<FusionReport> {
  const dir = mkdtempSync(join(tmpdir(), 'ep-ort-opt-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await openSession(modelBytes, { optimizedModelPath: path });
    await session.release();
    const optimized: Record<string, number> = {};
    for (const n of decodeModel(readFileSync(path), 'optimized model').graph?.node ?? []) {
      optimized[n.opType ?? '?'] = (optimized[n.opType ?? '?'] ?? 0) + 1;
    }
    const qlinear = Object.entries(optimized).filter(([op]) => QUANTIZED_KERNEL.test(op)).reduce((s, [, n]) => s + n, 0);
    const remainingQdq = (optimized.QuantizeLinear ?? 0) + (optimized.DequantizeLinear ?? 0);
    return { optimized, fused: qlinear > 0, qlinear, remainingQdq };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
