// Folds inference-mode BatchNormalization into the Conv before it, so quantized weights
// include the normalisation (ORT cannot fold it once the weight sits behind a DequantizeLinear).
import { attrFloat, type Graph } from '../onnx/proto.ts';
import { consumersOf, dropUnusedInitializers, initializerMap, nameAllocator } from '../onnx/graph.ts';
import { dimsOf, floatTensor, tensorFloats } from '../onnx/tensor.ts';

export function foldBatchNorm(graph: Graph): number {
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  const producer = new Map((graph.node ?? []).flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)));
  const fresh = nameAllocator(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const removed = new Set<object>();
  let folded = 0;
  for (const bn of graph.node ?? []) {
    if (bn.opType !== 'BatchNormalization' || (bn.output ?? []).filter(Boolean).length !== 1) continue;
    const conv = producer.get(bn.input?.[0] ?? '');
    if (!conv || conv.opType !== 'Conv') continue;
    const convOut = conv.output?.[0] ?? '';
    if ((consumers.get(convOut)?.length ?? 0) !== 1 || outputs.has(convOut)) continue;
    const [w, b] = [inits.get(conv.input?.[1] ?? ''), conv.input?.[2] ? inits.get(conv.input[2]) : undefined];
    const params = (bn.input ?? []).slice(1).map((n) => inits.get(n));
    if (!w || params.some((p) => !p) || params.length !== 4) continue;
    const [gamma, beta, mean, variance] = params.map((p) => tensorFloats(p!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const wDims = dimsOf(w);
    const weights = tensorFloats(w);
    const outC = wDims[0] ?? 1;
    const per = weights.length / outC;
    const bias = b ? tensorFloats(b) : new Float32Array(outC);
    const newW = new Float32Array(weights.length);
    const newB = new Float32Array(outC);
    for (let c = 0; c < outC; c++) {
      const k = (gamma[c] ?? 1) / Math.sqrt((variance[c] ?? 1) + eps);
      for (let i = 0; i < per; i++) newW[c * per + i] = (weights[c * per + i] ?? 0) * k;
      newB[c] = ((bias[c] ?? 0) - (mean[c] ?? 0)) * k + (beta[c] ?? 0);
    }
    const wName = fresh(`${conv.input?.[1]}_bnfolded`);
    const bName = fresh(`${convOut}_bnbias`);
    graph.initializer?.push(floatTensor(wName, wDims, newW), floatTensor(bName, [outC], newB));
    conv.input = [conv.input?.[0] ?? '', wName, bName];
    conv.output = [bn.output?.[0] ?? convOut];
    removed.add(bn);
    folded++;
  }
  graph.node = (graph.node ?? []).filter((n) => !removed.has(n));
  dropUnusedInitializers(graph);
  return folded;
}
