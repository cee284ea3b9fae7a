// Operation counts from the graph at the inferred shapes: a multiply-add counts as two,
// element-wise ops (and int8 conversions) one per output element, data movement nothing.
import { attrInt, attrInts, type Graph, type Node } from './proto.ts';
import { elementCount } from './tensor.ts';
import type { ShapeTable } from './shapes.ts';

const MOVEMENT = new Set([
  'Shape', 'Reshape', 'Flatten', 'Transpose', 'Concat', 'Slice', 'Gather', 'Squeeze', 'Unsqueeze', 'Identity',
  'Constant', 'ConstantOfShape', 'Expand', 'Split', 'Pad', 'Dropout',
]);
const PER_ELEMENT: Record<string, number> = { BatchNormalization: 2, Softmax: 3, LogSoftmax: 3, HardSigmoid: 2, HardSwish: 3, Sigmoid: 4, Tanh: 4 };

export function nodeFlops(node: Node, table: ShapeTable): number {
  const op = node.opType ?? '';
  const shape = (name: string | undefined) => (name ? table.shapes.get(name) : undefined) ?? [];
  const x = shape(node.input?.[0]);
  const y = shape(node.output?.[0]);
  if (MOVEMENT.has(op)) return 0;
  switch (op) {
    case 'Conv': {
      const w = shape(node.input?.[1]);
      const macs = elementCount(y) * elementCount(w.slice(1));
      return 2 * macs + (node.input?.[2] ? elementCount(y) : 0);
    }
    case 'ConvTranspose': {
      const w = shape(node.input?.[1]);
      // Weight is [Cin, Cout/group, k...]: each input element feeds Cout/group * k outputs.
      const macs = elementCount(x) * (w[1] ?? 1) * elementCount(w.slice(2));
      return 2 * macs + (node.input?.[2] ? elementCount(y) : 0);
    }
    case 'MatMul': {
      const a = shape(node.input?.[0]);
      return 2 * elementCount(y) * (a[a.length - 1] ?? 1);
    }
    case 'Gemm': {
      const a = shape(node.input?.[0]);
      const k = attrInt(node, 'transA', 0) ? a[0] : a[1];
      return 2 * elementCount(y) * (k ?? 1) + (node.input?.[2] ? elementCount(y) : 0);
    }
    case 'MaxPool':
    case 'AveragePool':
      return elementCount(y) * elementCount(attrInts(node, 'kernel_shape') ?? [1]);
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
      return elementCount(x);
    default:
      return (PER_ELEMENT[op] ?? 1) * elementCount(y);
  }
}

export function graphFlops(graph: Graph, table: ShapeTable): number {
  return (graph.node ?? []).reduce((sum, n) => sum + nodeFlops(n, table), 0);
}
