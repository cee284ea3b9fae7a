// fp16 variant: float initializers stored as float16, each followed by a Cast back to
// float32. Compute stays float32 (ONNX Runtime's CPU provider lacks fp16 kernels for most
// operators here, and constant-folds these Casts at load): the gain is a halved download.
import { DataType, intAttr, type Model, type Node } from '../onnx/proto.ts';
import { nameAllocator } from '../onnx/graph.ts';
import { dimsOf, float16Tensor, float32ToFloat16, tensorFloats } from '../onnx/tensor.ts';

const FP16_MAX = 65504;

export interface Fp16Report {
  converted: number;
  keptFloat32: number;
}

export function toFp16Storage(model: Model): Fp16Report {
  const graph = model.graph ?? {};
  const fresh = nameAllocator(graph);
  const casts: Node[] = [];
  const report: Fp16Report = { converted: 0, keptFloat32: 0 };
  graph.initializer = (graph.initializer ?? []).map((t) => {
    if (t.dataType !== DataType.FLOAT) return t;
    const values = tensorFloats(t);
    // Values beyond the float16 range (clip bounds such as 3.4e38) would become infinity.
    if (values.some((v) => Math.abs(v) > FP16_MAX)) {
      report.keptFloat32++;
      return t;
    }
    const name = t.name ?? '';
    const half = fresh(`${name}_fp16`);
    casts.push({ opType: 'Cast', name: fresh(`${name}_cast`), input: [half], output: [name], attribute: [intAttr('to', DataType.FLOAT)] });
    report.converted++;
    return float16Tensor(half, dimsOf(t), Uint16Array.from(values, float32ToFloat16));
  });
  graph.node = [...casts, ...(graph.node ?? [])];
  return report;
}
