// int8 static variant in QDQ form: uint8 activations, int8 per-channel weights and int32
// biases, placed so that ORT's QDQ transformer turns each unit into an integer kernel:
// Conv/MatMul (QLinearConv, QLinearMatMul), Add/Mul (QLinearAdd, QLinearMul), Sigmoid and the
// pools (lookup table, QLinearGlobalAveragePool) and Concat. Between two such kernels the
// tensor stays uint8: a Clip or Relu in between is folded into the quantization range, and a
// multiply/add by a scalar constant into the DequantizeLinear's scale and zero point, so
// neither runs at all.
import { DataType, intAttr, type Graph, type Node, type Tensor } from '../onnx/proto.ts';
import { consumersOf, dropUnusedInitializers, initializerMap, nameAllocator, realInputs } from '../onnx/graph.ts';
import { dimsOf, floatTensor, int32Tensor, tensorFloats, uint8Tensor } from '../onnx/tensor.ts';
import { affineReadBack, uint8Params, uint8ParamsWithin, type AffineParams, type Range } from './math.ts';
import { quantizeWeights } from './weights.ts';

const WEIGHTED = new Set(['Conv', 'MatMul']);
const UNARY = new Set(['GlobalAveragePool', 'AveragePool', 'Sigmoid']);
const BINARY = new Set(['Add', 'Mul']);
/**
 * Constant operands larger than this stay out of QLinearAdd/QLinearMul: one uint8 range over a
 * bias of thousands of classes loses too much, and such an Add is cheap in float.
 */
const MAX_CONSTANT = 4096;

interface Plan {
  /** Nodes that ORT runs as integer kernels once their QDQ unit is in place. */
  int8: Set<Node>;
  /** Float tensors that get a QuantizeLinear, in graph order. */
  points: string[];
  /** Clip/Relu nodes whose bounds become the quantization range of their output. */
  saturations: Map<string, { lo: number; hi: number }>;
}

function isFloatConst(inits: Map<string, Tensor>, name: string): boolean {
  return inits.get(name)?.dataType === DataType.FLOAT;
}

/** Bounds of a Relu or of a Clip with constant bounds; undefined for anything else. */
function saturation(node: Node, inits: Map<string, Tensor>): { lo: number; hi: number } | undefined {
  if (node.opType === 'Relu') return { lo: 0, hi: Number.POSITIVE_INFINITY };
  if (node.opType !== 'Clip') return undefined;
  const bound = (i: number, fallback: number) => {
    const name = node.input?.[i];
    if (!name) return fallback;
    const t = inits.get(name);
    return t?.dataType === DataType.FLOAT ? tensorFloats(t)[0] : undefined;
  };
  const lo = bound(1, Number.NEGATIVE_INFINITY);
  const hi = bound(2, Number.POSITIVE_INFINITY);
  return lo === undefined || hi === undefined ? undefined : { lo, hi };
}

/**
 * The weighted layers that stay float: those reading a graph input (raw pixels) and those
 * computing the graph outputs (logits), reached walking back from each output without crossing
 * another Conv/MatMul. One uint8 range over all logits moves the argmax between close classes;
 * measured on the recogniser, these two layers cost about 1.1 points of character accuracy in
 * int8 and are a small share of the compute.
 */
function edgeLayers(graph: Graph, producer: Map<string, Node>): Set<Node> {
  const inputs = new Set(realInputs(graph).map((i) => i.name ?? ''));
  const head = new Set<Node>((graph.node ?? []).filter((n) => WEIGHTED.has(n.opType ?? '') && (n.input ?? []).some((i) => inputs.has(i))));
  const seen = new Set<Node>();
  const stack = (graph.output ?? []).map((o) => producer.get(o.name ?? '')).filter((n): n is Node => n !== undefined);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (WEIGHTED.has(n.opType ?? '')) {
      head.add(n);
      continue;
    }
    // Shape arithmetic reads activations only for their dimensions: not a data path.
    if (n.opType === 'Shape') continue;
    for (const i of n.input ?? []) {
      const p = producer.get(i);
      if (p) stack.push(p);
    }
  }
  return head;
}

function planQdq(graph: Graph): Plan {
  const inits = initializerMap(graph);
  const producer = new Map((graph.node ?? []).flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)));
  const consumers = consumersOf(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const int8 = new Set<Node>();
  const saturations = new Map<string, { lo: number; hi: number }>();
  // Whether a tensor comes out of an integer kernel, possibly through a Clip/Relu.
  const fromInt8 = (t: string): boolean => {
    const p = producer.get(t);
    if (!p) return false;
    if (int8.has(p)) return true;
    return saturation(p, inits) !== undefined && fromInt8(p.input?.[0] ?? '');
  };
  const kept = edgeLayers(graph, producer);
  for (const n of graph.node ?? []) {
    if (kept.has(n)) continue;
    const op = n.opType ?? '';
    const inputs = (n.input ?? []).filter(Boolean);
    const activations = inputs.filter((i) => !inits.has(i));
    if (WEIGHTED.has(op)) int8.add(n);
    else if (UNARY.has(op) && fromInt8(inputs[0] ?? '')) int8.add(n);
    else if (op === 'Concat' && activations.length === inputs.length && inputs.every(fromInt8)) int8.add(n);
    else if (BINARY.has(op) && inputs.length === 2 && activations.length >= 1 && activations.every(fromInt8)) {
      const constants = inputs.filter((i) => inits.has(i));
      if (constants.every((c) => isFloatConst(inits, c) && tensorFloats(inits.get(c)!).length <= MAX_CONSTANT)) int8.add(n);
    }
  }
  const points = new Set<string>();
  const point = (t: string) => {
    if (t && !outputs.has(t) && !inits.has(t)) points.add(t);
  };
  for (const n of graph.node ?? []) {
    if (!int8.has(n)) continue;
    const inputs = n.opType === 'Conv' ? [n.input?.[0] ?? ''] : (n.input ?? []);
    for (const i of inputs) point(i);
    const out = n.output?.[0] ?? '';
    const next = consumers.get(out) ?? [];
    const bounds = next.map((c) => saturation(c, inits));
    if (next.length && bounds.every(Boolean)) {
      next.forEach((c, k) => {
        saturations.set(c.output?.[0] ?? '', bounds[k]!);
        point(c.output?.[0] ?? '');
      });
    } else point(out);
  }
  // Saturation outputs read by integer kernels keep their bounds even when their producer is float.
  for (const n of graph.node ?? []) {
    const b = saturation(n, inits);
    if (b && points.has(n.output?.[0] ?? '')) saturations.set(n.output?.[0] ?? '', b);
  }
  const order = new Map<string, number>();
  for (const i of realInputs(graph)) order.set(i.name ?? '', -1);
  (graph.node ?? []).forEach((n, k) => (n.output ?? []).forEach((o) => order.set(o, k)));
  return { int8, points: [...points].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0)), saturations };
}

/** Float activations that the static variant quantizes (the tensors to calibrate). */
export function activationTensors(graph: Graph): string[] {
  return planQdq(graph).points;
}

export interface StaticReport {
  activations: number;
  /** Nodes planned as integer kernels, by operator. */
  int8Nodes: Record<string, number>;
  /** Scalar Mul/Add nodes folded into a DequantizeLinear. */
  absorbed: number;
  weights: number;
  biases: number;
}

/** What the consumers of a quantized tensor read: a * (its QuantizeLinear's source) + b. */
interface ReadBack {
  source: string;
  a: number;
  b: number;
}

/** Nodes in dependency order (QDQ insertion appends nodes after their producers' positions). */
function topologicalOrder(graph: Graph): Node[] {
  const ready = new Set<string>([...(graph.initializer ?? []).map((t) => t.name ?? ''), ...(graph.input ?? []).map((i) => i.name ?? ''), '']);
  const waiting = new Map<string, Node[]>();
  const missing = new Map<Node, number>();
  const out: Node[] = [];
  const queue: Node[] = [];
  for (const n of graph.node ?? []) {
    const need = [...new Set((n.input ?? []).filter((i) => !ready.has(i)))];
    missing.set(n, need.length);
    if (!need.length) queue.push(n);
    for (const i of need) waiting.set(i, [...(waiting.get(i) ?? []), n]);
  }
  while (queue.length) {
    const n = queue.shift()!;
    out.push(n);
    for (const o of n.output ?? []) {
      for (const w of waiting.get(o) ?? []) {
        const left = (missing.get(w) ?? 0) - 1;
        missing.set(w, left);
        if (left === 0) queue.push(w);
      }
      waiting.delete(o);
    }
  }
  // Anything left reads a tensor nothing produces: keep it (ORT will name the problem).
  for (const n of graph.node ?? []) if (!out.includes(n)) out.push(n);
  return out;
}

/** Inserts QDQ around every node ORT can run in int8, with the calibrated `ranges` (graph already prepared). */
export function insertQdq(graph: Graph, ranges: Map<string, Range>): StaticReport {
  const plan = planQdq(graph);
  const inits = initializerMap(graph);
  const consumers = consumersOf(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const points = plan.points.filter((t) => ranges.has(t));
  const quantized = new Set(points);

  // Scalar Mul/Add chains on a tensor read only by them: folded into the DequantizeLinear.
  const readBack = new Map<string, ReadBack>();
  const absorbed = new Set<Node>();
  const rangeOf = (t: string) => {
    const r = ranges.get(t)!;
    const s = plan.saturations.get(t);
    return s ? { min: Math.max(r.min, s.lo), max: Math.min(r.max, s.hi) } : r;
  };
  for (const n of graph.node ?? []) {
    if (!plan.int8.has(n) || !BINARY.has(n.opType ?? '')) continue;
    const [x, c] = inits.has(n.input?.[0] ?? '') ? [n.input?.[1] ?? '', n.input?.[0] ?? ''] : [n.input?.[0] ?? '', n.input?.[1] ?? ''];
    const constant = inits.get(c);
    const out = n.output?.[0] ?? '';
    if (!constant || !quantized.has(x) || consumers.get(x)?.length !== 1 || outputs.has(out)) continue;
    const value = tensorFloats(constant);
    if (value.length !== 1 || dimsOf(constant).length > 1) continue;
    const base = readBack.get(x) ?? { source: x, a: 1, b: 0 };
    const k = value[0] ?? 0;
    const next = n.opType === 'Mul' ? { source: base.source, a: base.a * k, b: base.b * k } : { ...base, b: base.b + k };
    // A clipped source keeps its exact bounds (ORT drops the Clip only then): no zero-point shift.
    if (next.b !== 0 && plan.saturations.has(base.source)) continue;
    const r = rangeOf(base.source);
    if (!affineReadBack(r.min, r.max, next.a, next.b)) continue;
    readBack.delete(x);
    readBack.set(out, next);
    quantized.delete(x);
    quantized.add(out);
    absorbed.add(n);
  }
  graph.node = (graph.node ?? []).filter((n) => !absorbed.has(n));

  const weights = quantizeWeights(graph);
  const fresh = nameAllocator(graph);
  const added: Node[] = [];
  const dqParams = new Map<string, AffineParams>();
  const scalar = (base: string, p: AffineParams) => {
    const [s, z] = [fresh(`${base}_scale`), fresh(`${base}_zero`)];
    graph.initializer?.push(floatTensor(s, [], Float32Array.of(p.scale)), uint8Tensor(z, [], Uint8Array.of(p.zeroPoint)));
    return [s, z] as const;
  };
  const liveConsumers = consumersOf(graph);
  for (const t of quantized) {
    const rb = readBack.get(t) ?? { source: t, a: 1, b: 0 };
    const sat = plan.saturations.get(rb.source);
    const r = ranges.get(rb.source)!;
    let q: AffineParams;
    let dq: AffineParams;
    if (sat) {
      q = uint8ParamsWithin(r.min, r.max, sat.lo, sat.hi);
      dq = { scale: q.scale * rb.a, zeroPoint: q.zeroPoint };
    } else {
      const p = affineReadBack(r.min, r.max, rb.a, rb.b) ?? { q: uint8Params(r.min, r.max), dq: uint8Params(r.min, r.max) };
      q = p.q;
      dq = p.dq;
    }
    const [qs, qz] = scalar(rb.source, q);
    const qName = fresh(`${rb.source}_q`);
    added.push({ opType: 'QuantizeLinear', name: fresh(`${rb.source}_QuantizeLinear`), input: [rb.source, qs, qz], output: [qName] });
    const same = dq.scale === q.scale && dq.zeroPoint === q.zeroPoint;
    const [ds, dz] = same ? [qs, qz] : scalar(t, dq);
    // One DequantizeLinear per consumer: each QDQ unit then owns its inputs.
    for (const c of liveConsumers.get(t) ?? []) {
      const dqName = fresh(`${t}_dq`);
      added.push({ opType: 'DequantizeLinear', name: fresh(`${t}_DequantizeLinear`), input: [qName, ds, dz], output: [dqName] });
      dqParams.set(dqName, dq);
      c.input = (c.input ?? []).map((i) => (i === t ? dqName : i));
    }
  }
  // Constant operands of Add/Mul kernels: uint8 over the constant's own range.
  for (const n of graph.node ?? []) {
    if (!plan.int8.has(n) || !BINARY.has(n.opType ?? '')) continue;
    n.input = (n.input ?? []).map((i) => {
      const c = inits.get(i);
      if (!c || c.dataType !== DataType.FLOAT) return i;
      const v = tensorFloats(c);
      const p = uint8Params(Math.min(...v), Math.max(...v));
      const qv = Uint8Array.from(v, (x) => Math.max(0, Math.min(255, Math.round(x / p.scale) + p.zeroPoint)));
      const qName = fresh(`${i}_uint8`);
      graph.initializer?.push(uint8Tensor(qName, dimsOf(c), qv));
      const [s, z] = scalar(i, p);
      const out = fresh(`${i}_dq`);
      added.push({ opType: 'DequantizeLinear', name: fresh(`${i}_DequantizeLinear`), input: [qName, s, z], output: [out] });
      return out;
    });
  }

  // Bias as int32 at scale input_scale * weight_scale[c], the form QLinearConv expects.
  let biases = 0;
  for (const [node, w] of weights) {
    if (node.opType !== 'Conv' || !node.input?.[2]) continue;
    const xp = dqParams.get(node.input[0] ?? '');
    const bias = inits.get(node.input[2]);
    if (!xp || !bias || bias.dataType !== DataType.FLOAT) continue;
    const b = tensorFloats(bias);
    const scales = Float32Array.from(w.scales, (s) => s * xp.scale);
    const q = Int32Array.from(b, (v, c) => Math.round(v / (scales[c] ?? 1)));
    const [qName, sName, out] = ['_int32', '_scale', '_dq'].map((s) => fresh(`${node.input?.[2]}${s}`)) as [string, string, string];
    graph.initializer?.push(int32Tensor(qName, dimsOf(bias), q), floatTensor(sName, [scales.length], scales));
    added.push({ opType: 'DequantizeLinear', name: fresh(`${node.input[2]}_DequantizeLinear`), input: [qName, sName], output: [out], attribute: [intAttr('axis', 0)] });
    node.input = [node.input[0] ?? '', node.input[1] ?? '', out];
    biases++;
  }

  graph.node = [...added, ...(graph.node ?? [])];
  graph.node = topologicalOrder(graph);
  dropUnusedInitializers(graph);
  const int8Nodes: Record<string, number> = {};
  for (const n of plan.int8) if (!absorbed.has(n)) int8Nodes[n.opType ?? '?'] = (int8Nodes[n.opType ?? '?'] ?? 0) + 1;
  return { activations: quantized.size, int8Nodes, absorbed: absorbed.size, weights: new Set([...weights.values()]).size, biases };
}
