// int8 static variant in QDQ form: uint8 QuantizeLinear/DequantizeLinear pairs on the inputs
// and outputs of Conv and MatMul, int8 per-channel weights and int32 biases, so that ORT's
// QDQ transformer can fuse each unit into QLinearConv / QLinearMatMul.
import { DataType, intAttr, type Graph, type Node } from '../onnx/proto.ts';
import { consumersOf, dropUnusedInitializers, initializerMap, nameAllocator, realInputs } from '../onnx/graph.ts';
import { dimsOf, floatTensor, int32Tensor, tensorFloats, uint8Tensor } from '../onnx/tensor.ts';
import { uint8Params, type Range } from './math.ts';
import { quantizeWeights } from './weights.ts';

const TARGET_OPS = new Set(['Conv', 'MatMul']);

/** Float activations that the static variant quantizes: inputs and outputs of Conv and MatMul. */
export function activationTensors(graph: Graph): string[] {
  const inits = initializerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
  const names = new Set<string>();
  for (const n of graph.node ?? []) {
    if (!TARGET_OPS.has(n.opType ?? '')) continue;
    const inputs = n.opType === 'Conv' ? [n.input?.[0]] : [n.input?.[0], n.input?.[1]];
    for (const i of inputs) if (i && !inits.has(i)) names.add(i);
    const out = n.output?.[0];
    // A graph output stays float; quantizing it would change what callers receive.
    if (out && !graphOutputs.has(out)) names.add(out);
  }
  return [...names];
}

export interface StaticReport {
  activations: number;
  weights: number;
  biases: number;
}

/** Inserts QDQ around Conv and MatMul with the calibrated `ranges` (graph already prepared). */
export function insertQdq(graph: Graph, ranges: Map<string, Range>): StaticReport {
  const targets = activationTensors(graph).filter((t) => ranges.has(t));
  const params = new Map(targets.map((t) => {
    const r = ranges.get(t)!;
    return [t, uint8Params(r.min, r.max)] as const;
  }));
  const weights = quantizeWeights(graph);
  const fresh = nameAllocator(graph);
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  const qdqAfter = new Map<string, Node[]>();
  const renamed = new Map<string, string>();

  for (const t of targets) {
    const p = params.get(t)!;
    const [sName, zName, qName, dqName] = ['_scale', '_zero', '_q', '_dq'].map((s) => fresh(`${t}${s}`)) as [string, string, string, string];
    graph.initializer?.push(floatTensor(sName, [], Float32Array.of(p.scale)), uint8Tensor(zName, [], Uint8Array.of(p.zeroPoint)));
    qdqAfter.set(t, [
      { opType: 'QuantizeLinear', name: fresh(`${t}_QuantizeLinear`), input: [t, sName, zName], output: [qName] },
      { opType: 'DequantizeLinear', name: fresh(`${t}_DequantizeLinear`), input: [qName, sName, zName], output: [dqName] },
    ]);
    renamed.set(t, dqName);
    for (const c of consumers.get(t) ?? []) c.input = (c.input ?? []).map((i) => (i === t ? dqName : i));
  }

  // Bias as int32 at scale input_scale * weight_scale[c], the form QLinearConv expects.
  let biases = 0;
  for (const [node, w] of weights) {
    if (node.opType !== 'Conv' || !node.input?.[2]) continue;
    const x = node.input[0] ?? '';
    const source = [...renamed].find(([, dq]) => dq === x)?.[0];
    const bias = inits.get(node.input[2]);
    const xp = source ? params.get(source) : undefined;
    if (!xp || !bias || bias.dataType !== DataType.FLOAT) continue;
    const b = tensorFloats(bias);
    const scales = Float32Array.from(w.scales, (s) => s * xp.scale);
    const q = Int32Array.from(b, (v, c) => Math.round(v / (scales[c] ?? 1)));
    const [qName, sName, out] = ['_int32', '_scale', '_dq'].map((s) => fresh(`${node.input?.[2]}${s}`)) as [string, string, string];
    graph.initializer?.push(int32Tensor(qName, dimsOf(bias), q), floatTensor(sName, [scales.length], scales));
    graph.node = [{ opType: 'DequantizeLinear', name: fresh(`${node.input[2]}_DequantizeLinear`), input: [qName, sName], output: [out], attribute: [intAttr('axis', 0)] }, ...(graph.node ?? [])];
    node.input = [node.input[0] ?? '', node.input[1] ?? '', out];
    biases++;
  }

  // Rebuild the node list in topological order: each Q/DQ pair right after its producer.
  const ordered: Node[] = [];
  const inputs = new Set(realInputs(graph).map((i) => i.name ?? ''));
  for (const t of targets) if (inputs.has(t)) ordered.push(...(qdqAfter.get(t) ?? []));
  for (const n of graph.node ?? []) {
    ordered.push(n);
    for (const o of n.output ?? []) ordered.push(...(qdqAfter.get(o) ?? []));
  }
  graph.node = ordered;
  dropUnusedInitializers(graph);
  return { activations: targets.length, weights: new Set([...weights.values()]).size, biases };
}
