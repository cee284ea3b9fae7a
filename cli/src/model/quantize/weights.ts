// Per-channel symmetric int8 weights behind DequantizeLinear (opset 13 `axis`), shared by the
// weight-only and the static variant.
import { DataType, attrInt, intAttr, type Graph, type Node } from '../onnx/proto.ts';
import { initializerMap, nameAllocator } from '../onnx/graph.ts';
import { dimsOf, floatTensor, int8Tensor, tensorFloats } from '../onnx/tensor.ts';
import { quantizePerChannel, type PerChannel } from './math.ts';

export interface QuantizedWeight {
  /** Output of the DequantizeLinear that replaces the float weight. */
  dequantized: string;
  scales: Float32Array;
  axis: number;
}

/** Which input of `node` is a weight, and the axis of its output channels. */
export function weightSlot(node: Node, weightDims: (name: string) => number[] | undefined): { input: number; axis: number } | undefined {
  switch (node.opType) {
    case 'Conv':
      return { input: 1, axis: 0 };
    case 'ConvTranspose':
      return { input: 1, axis: 1 };
    case 'Gemm':
      return { input: 1, axis: attrInt(node, 'transB', 0) ? 0 : 1 };
    case 'MatMul': {
      const dims = weightDims(node.input?.[1] ?? '');
      return dims && dims.length === 2 ? { input: 1, axis: 1 } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Replaces the constant float weights of Conv, ConvTranspose, MatMul and Gemm by int8 and a
 * DequantizeLinear. Returns the quantized weights by node output name.
 */
export function quantizeWeights(graph: Graph): Map<Node, QuantizedWeight> {
  const inits = initializerMap(graph);
  const fresh = nameAllocator(graph);
  const done = new Map<string, QuantizedWeight>();
  const byNode = new Map<Node, QuantizedWeight>();
  const dq: Node[] = [];
  for (const node of graph.node ?? []) {
    const slot = weightSlot(node, (n) => {
      const t = inits.get(n);
      return t ? dimsOf(t) : undefined;
    });
    const wName = slot ? node.input?.[slot.input] : undefined;
    const w = wName ? inits.get(wName) : undefined;
    if (!slot || !wName || !w || w.dataType !== DataType.FLOAT) continue;
    const key = `${wName}@${slot.axis}`;
    let qw = done.get(key);
    if (!qw) {
      const dims = dimsOf(w);
      const pc: PerChannel = quantizePerChannel(tensorFloats(w), dims, slot.axis);
      const channels = dims[slot.axis] ?? 1;
      const [qName, sName, out] = ['_int8', '_scale', '_dq'].map((s) => fresh(`${wName}${s}`)) as [string, string, string];
      graph.initializer?.push(int8Tensor(qName, dims, pc.q), floatTensor(sName, [channels], pc.scales));
      // Symmetric: the zero point is 0, which is DequantizeLinear's default when omitted.
      dq.push({ opType: 'DequantizeLinear', name: fresh(`${wName}_DequantizeLinear`), input: [qName, sName], output: [out], attribute: [intAttr('axis', slot.axis)] });
      qw = { dequantized: out, scales: pc.scales, axis: slot.axis };
      done.set(key, qw);
    }
    node.input = [...(node.input ?? [])];
    node.input[slot.input] = qw.dequantized;
    byNode.set(node, qw);
  }
  graph.node = [...dq, ...(graph.node ?? [])];
  return byNode;
}
