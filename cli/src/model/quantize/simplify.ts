// Exact float rewrites before int8: every element-wise pass removed here is one pass fewer at
// run time, and the shapes left are the ones ORT's QDQ fusions recognise.
//  - Div by a constant becomes Mul by its reciprocal (ORT has QLinearMul, no QLinearDiv);
//  - Mul/Add by a scalar or per-channel constant right after a Conv folds into its weights and
//    bias (PP-LCNetV3's learnable affine blocks);
//  - HardSigmoid right after a Conv folds its slope and offset into the Conv and becomes
//    Clip(0, 1), which the int8 graph absorbs into the output's quantization range.
import { attrFloat, DataType, type Graph, type Node, type Tensor } from '../onnx/proto.ts';
import { consumersOf, dropUnusedInitializers, initializerMap, nameAllocator } from '../onnx/graph.ts';
import { dimsOf, floatTensor, tensorFloats } from '../onnx/tensor.ts';

export interface SimplifyReport {
  divToMul: number;
  convAffine: number;
  hardSigmoid: number;
}

function floatConst(inits: Map<string, Tensor>, name: string | undefined): Tensor | undefined {
  const t = name ? inits.get(name) : undefined;
  return t && t.dataType === DataType.FLOAT ? t : undefined;
}

/** Per-channel values of `t` for `channels` output channels of an NCHW tensor, or undefined. */
function perChannel(t: Tensor, channels: number): Float32Array | undefined {
  const dims = dimsOf(t);
  const v = tensorFloats(t);
  if (v.length === 1 && dims.length <= 4) return new Float32Array(channels).fill(v[0] ?? 0);
  // [C,1,1] or [1,C,1,1]: one value per channel. A bare [C] would broadcast over the width.
  const shaped = (dims.length === 3 && dims[0] === channels && dims[1] === 1 && dims[2] === 1) || (dims.length === 4 && dims[0] === 1 && dims[1] === channels && dims[2] === 1 && dims[3] === 1);
  return shaped ? v : undefined;
}

export function simplifyForInt8(graph: Graph): SimplifyReport {
  const report: SimplifyReport = { divToMul: 0, convAffine: 0, hardSigmoid: 0 };
  const inits = initializerMap(graph);
  const fresh = nameAllocator(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));

  for (const n of graph.node ?? []) {
    const c = n.opType === 'Div' ? floatConst(inits, n.input?.[1]) : undefined;
    if (!c) continue;
    const v = tensorFloats(c);
    if (v.some((x) => x === 0 || !Number.isFinite(x))) continue;
    const name = fresh(`${n.input?.[1]}_reciprocal`);
    const t = floatTensor(name, dimsOf(c), Float32Array.from(v, (x) => 1 / x));
    graph.initializer?.push(t);
    inits.set(name, t);
    n.opType = 'Mul';
    n.input = [n.input?.[0] ?? '', name];
    report.divToMul++;
  }

  const removed = new Set<Node>();
  for (const conv of graph.node ?? []) {
    if (conv.opType !== 'Conv') continue;
    const w = floatConst(inits, conv.input?.[1]);
    if (!w || (conv.input?.[2] && !floatConst(inits, conv.input[2]))) continue;
    const wDims = dimsOf(w);
    const outC = wDims[0] ?? 0;
    let weights: Float32Array | undefined;
    let bias: Float32Array | undefined;
    // Follow the chain of single-consumer affine nodes after this Conv.
    for (;;) {
      const out = conv.output?.[0] ?? '';
      const next = consumersOf(graph).get(out)?.filter((x) => !removed.has(x));
      const node = next?.length === 1 && !outputs.has(out) ? next[0] : undefined;
      if (!node || !['HardSigmoid', 'Mul', 'Add'].includes(node.opType ?? '')) break;
      const other = node.input?.[0] === out ? node.input?.[1] : node.input?.[0];
      const c = floatConst(inits, other);
      const values = c ? perChannel(c, outC) : undefined;
      if (node.opType !== 'HardSigmoid' && (!values || node.input?.filter((i) => i === out).length !== 1)) break;
      weights ??= tensorFloats(w).slice();
      const b = conv.input?.[2] ? floatConst(inits, conv.input[2]) : undefined;
      bias ??= b ? tensorFloats(b).slice() : new Float32Array(outC);
      if (node.opType === 'HardSigmoid') {
        const alpha = attrFloat(node, 'alpha', 0.2);
        const beta = attrFloat(node, 'beta', 0.5);
        weights = weights.map((x) => x * alpha);
        bias = bias.map((x) => x * alpha + beta);
        const [lo, hi] = [fresh(`${out}_clip_min`), fresh(`${out}_clip_max`)];
        graph.initializer?.push(floatTensor(lo, [], Float32Array.of(0)), floatTensor(hi, [], Float32Array.of(1)));
        node.opType = 'Clip';
        node.attribute = [];
        node.input = [out, lo, hi];
        report.hardSigmoid++;
        break;
      }
      if (!values) break;
      const per = weights.length / outC;
      if (node.opType === 'Mul') {
        weights = weights.map((x, i) => x * (values[Math.floor(i / per)] ?? 1));
        bias = bias.map((x, i) => x * (values[i] ?? 1));
      } else {
        bias = bias.map((x, i) => x + (values[i] ?? 0));
      }
      conv.output = [node.output?.[0] ?? out];
      removed.add(node);
      report.convAffine++;
    }
    if (weights && bias) {
      const [wName, bName] = [fresh(`${conv.input?.[1]}_folded`), fresh(`${conv.output?.[0]}_bias`)];
      graph.initializer?.push(floatTensor(wName, wDims, weights), floatTensor(bName, [outC], bias));
      conv.input = [conv.input?.[0] ?? '', wName, bName];
    }
  }
  graph.node = (graph.node ?? []).filter((n) => !removed.has(n));
  dropUnusedInitializers(graph);
  return report;
}
