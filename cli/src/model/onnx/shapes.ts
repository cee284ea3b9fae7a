// Static shape inference for a fixed input size. Small integer tensors (shape arithmetic:
// Shape -> Slice -> Concat -> Reshape) are evaluated too, since reshapes depend on them.
import { ModelError } from '../errors.ts';
import { attrInt, attrInts, attrString, num, type Graph, type Node } from './proto.ts';
import { dimsOf, elementCount, tensorInts } from './tensor.ts';
import { realInputs } from './graph.ts';

export interface ShapeTable {
  shapes: Map<string, number[]>;
  /** Values of small tensors whose contents are known before running (at most MAX_VALUES). */
  values: Map<string, number[]>;
}

const MAX_VALUES = 64;

/** Dimensions of each graph input: fixed ones from the model, dynamic ones from `given`. */
export function resolveInputShapes(graph: Graph, given: Map<string, number[]> | undefined): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const input of realInputs(graph)) {
    const name = input.name ?? '';
    const dims = input.type?.tensorType?.shape?.dim ?? [];
    const declared = dims.map((d) => (d.dimParam || !num(d.dimValue) ? undefined : num(d.dimValue)));
    const override = given?.get(name) ?? (given?.size === 1 && realInputs(graph).length === 1 ? [...given.values()][0] : undefined);
    if (override) {
      if (override.length !== declared.length) {
        throw new ModelError('BAD_SHAPE', `input ${name} has rank ${declared.length}, --shape gives ${override.length} dimensions`);
      }
      declared.forEach((d, i) => {
        if (d !== undefined && d !== override[i]) {
          throw new ModelError('BAD_SHAPE', `input ${name} dimension ${i} is fixed at ${d}, --shape gives ${override[i]}`);
        }
      });
      out.set(name, [...override]);
    } else if (declared.some((d) => d === undefined)) {
      throw new ModelError(
        'DYNAMIC_SHAPE',
        `input ${name} has dynamic dimensions [${dims.map((d) => d.dimParam || num(d.dimValue)).join(', ')}]; pass --shape ${name}=${declared.map((d) => d ?? 'N').join('x')} with numbers`,
      );
    } else {
      out.set(name, declared as number[]);
    }
  }
  return out;
}

/** Parses `--shape x=1x3x48x192` (or `1x3x48x192` for a single input). */
export function parseShapeFlag(values: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    const name = eq >= 0 ? v.slice(0, eq) : '';
    const dims = (eq >= 0 ? v.slice(eq + 1) : v).split(/[x,]/).map(Number);
    if (!dims.length || dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new ModelError('BAD_SHAPE', `--shape ${v}: expected name=1x3x48x192 with positive integers`);
    }
    out.set(name, dims);
  }
  return out;
}

function fail(node: Node, why: string): never {
  throw new ModelError('UNSUPPORTED_OPERATOR', `cannot infer shapes for ${node.opType} node ${node.name || node.output?.[0]}: ${why}`);
}

export function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`cannot broadcast [${a.join(',')}] with [${b.join(',')}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Output size of a sliding window (Conv, Pool) along one axis. */
export function windowOut(size: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation: number, ceil: boolean): number {
  const span = size + padBegin + padEnd - dilation * (kernel - 1) - 1;
  return (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
}

function windowShape(node: Node, x: number[], kernel: number[], channels: number): number[] {
  const spatial = x.length - 2;
  const strides = attrInts(node, 'strides') ?? Array(spatial).fill(1);
  const dilations = attrInts(node, 'dilations') ?? Array(spatial).fill(1);
  const pads = attrInts(node, 'pads') ?? Array(spatial * 2).fill(0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const out = [x[0] ?? 1, channels];
  for (let i = 0; i < spatial; i++) {
    const size = x[i + 2] ?? 1;
    const s = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(size / s));
    else if (autoPad === 'VALID') out.push(windowOut(size, kernel[i] ?? 1, s, 0, 0, dilations[i] ?? 1, ceil));
    else out.push(windowOut(size, kernel[i] ?? 1, s, pads[i] ?? 0, pads[i + spatial] ?? 0, dilations[i] ?? 1, ceil));
  }
  return out;
}

const SAME_SHAPE = new Set([
  'Identity', 'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Clip', 'Sqrt', 'Exp',
  'Log', 'Neg', 'Abs', 'Reciprocal', 'Erf', 'Floor', 'Ceil', 'Round', 'Sign', 'Softmax', 'LogSoftmax', 'Dropout',
  'BatchNormalization', 'QuantizeLinear', 'DequantizeLinear', 'Not', 'Elu', 'Selu', 'Softplus', 'Gelu', 'Cast',
  'InstanceNormalization', 'LayerNormalization',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Equal', 'Greater', 'Less', 'And', 'Or', 'Where', 'Sum', 'Mean']);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2']);

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function arith(op: string, a: number, b: number): number {
  switch (op) {
    case 'Add': return a + b;
    case 'Sub': return a - b;
    case 'Mul': return a * b;
    case 'Div': return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
    case 'Max': return Math.max(a, b);
    case 'Min': return Math.min(a, b);
    default: return Number.NaN;
  }
}

/** Infers every tensor's shape, in node order (ONNX graphs are topologically sorted). */
export function inferShapes(graph: Graph, inputShapes: Map<string, number[]>, opset: number): ShapeTable {
  const shapes = new Map<string, number[]>(inputShapes);
  const values = new Map<string, number[]>();
  for (const t of graph.initializer ?? []) {
    const dims = dimsOf(t);
    shapes.set(t.name ?? '', dims);
    if (elementCount(dims) <= MAX_VALUES) {
      try {
        values.set(t.name ?? '', tensorInts(t));
      } catch {
        // strings and other types carry no shape arithmetic
      }
    }
  }
  const shapeOf = (node: Node, i: number): number[] => {
    const name = node.input?.[i] ?? '';
    const s = shapes.get(name);
    if (!s) fail(node, `input ${i} (${name || 'missing'}) has no known shape`);
    return s;
  };
  const valueOf = (node: Node, i: number): number[] | undefined => {
    const name = node.input?.[i];
    return name ? values.get(name) : undefined;
  };
  const needValue = (node: Node, i: number, what: string): number[] => {
    const v = valueOf(node, i);
    if (!v) fail(node, `${what} (input ${i}) is not a constant`);
    return v;
  };
  const hasInput = (node: Node, i: number) => Boolean(node.input?.[i]);

  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    const out = (i: number, dims: number[], value?: number[]) => {
      const name = node.output?.[i];
      if (!name) return;
      shapes.set(name, dims);
      if (value && value.length <= MAX_VALUES) values.set(name, value);
    };
    try {
      if (SAME_SHAPE.has(op)) {
        const x = shapeOf(node, 0);
        let v = valueOf(node, 0);
        if (op === 'Cast' && v) v = v.map((e) => (attrInt(node, 'to', 1) === 1 ? e : Math.trunc(e)));
        out(0, [...x], op === 'Cast' || op === 'Identity' ? v : undefined);
        continue;
      }
      if (BROADCAST.has(op)) {
        const ins = (node.input ?? []).map((_, i) => shapeOf(node, i));
        const dims = ins.reduce((a, b) => broadcast(a, b));
        let v: number[] | undefined;
        const a = valueOf(node, 0);
        const b = valueOf(node, 1);
        if (a && b && ins.length === 2 && (a.length === b.length || a.length === 1 || b.length === 1)) {
          const n = Math.max(a.length, b.length);
          v = Array.from({ length: n }, (_, i) => arith(op, a[a.length === 1 ? 0 : i] ?? 0, b[b.length === 1 ? 0 : i] ?? 0));
          if (v.some(Number.isNaN)) v = undefined;
        }
        out(0, dims, v);
        continue;
      }
      if (REDUCE.has(op)) {
        const x = shapeOf(node, 0);
        const fromInput = (op === 'ReduceSum' && opset >= 13) || opset >= 18;
        const axes = (fromInput ? valueOf(node, 1) : attrInts(node, 'axes')) ?? x.map((_, i) => i);
        const keep = attrInt(node, 'keepdims', 1) === 1;
        const set = new Set(axes.map((a) => normAxis(a, x.length)));
        out(0, keep ? x.map((d, i) => (set.has(i) ? 1 : d)) : x.filter((_, i) => !set.has(i)));
        continue;
      }
      switch (op) {
        case 'Constant':
          fail(node, 'Constant nodes are hoisted into initializers before inference');
          break;
        case 'Conv': {
          const x = shapeOf(node, 0);
          const w = shapeOf(node, 1);
          out(0, windowShape(node, x, attrInts(node, 'kernel_shape') ?? w.slice(2), w[0] ?? 1));
          break;
        }
        case 'ConvTranspose': {
          const x = shapeOf(node, 0);
          const w = shapeOf(node, 1);
          const group = attrInt(node, 'group', 1);
          const kernel = attrInts(node, 'kernel_shape') ?? w.slice(2);
          const spatial = x.length - 2;
          const strides = attrInts(node, 'strides') ?? Array(spatial).fill(1);
          const dil = attrInts(node, 'dilations') ?? Array(spatial).fill(1);
          const pads = attrInts(node, 'pads') ?? Array(spatial * 2).fill(0);
          const outPad = attrInts(node, 'output_padding') ?? Array(spatial).fill(0);
          const explicit = attrInts(node, 'output_shape');
          const dims = [x[0] ?? 1, (w[1] ?? 1) * group];
          for (let i = 0; i < spatial; i++) {
            dims.push(
              explicit?.[i] ??
                (strides[i] ?? 1) * ((x[i + 2] ?? 1) - 1) + (outPad[i] ?? 0) + ((kernel[i] ?? 1) - 1) * (dil[i] ?? 1) + 1 - (pads[i] ?? 0) - (pads[i + spatial] ?? 0),
            );
          }
          out(0, dims);
          break;
        }
        case 'MaxPool':
        case 'AveragePool': {
          const x = shapeOf(node, 0);
          const kernel = attrInts(node, 'kernel_shape');
          if (!kernel) fail(node, 'no kernel_shape');
          out(0, windowShape(node, x, kernel, x[1] ?? 1));
          break;
        }
        case 'GlobalAveragePool':
        case 'GlobalMaxPool': {
          const x = shapeOf(node, 0);
          out(0, x.map((d, i) => (i < 2 ? d : 1)));
          break;
        }
        case 'Shape': {
          const x = shapeOf(node, 0);
          const start = normAxis(attrInt(node, 'start', 0), x.length);
          const end = attr_end(node, x.length);
          const v = x.slice(start, end);
          out(0, [v.length], v);
          break;
        }
        case 'Reshape': {
          const x = shapeOf(node, 0);
          const target = needValue(node, 1, 'the target shape');
          const dims = target.map((d, i) => (d === 0 ? (x[i] ?? 1) : d));
          const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
          const total = elementCount(x);
          const resolved = dims.map((d) => (d === -1 ? total / known : d));
          if (elementCount(resolved) !== total || resolved.some((d) => !Number.isInteger(d))) {
            fail(node, `cannot reshape [${x.join(',')}] to [${target.join(',')}]`);
          }
          out(0, resolved, valueOf(node, 0));
          break;
        }
        case 'Flatten': {
          const x = shapeOf(node, 0);
          const axis = normAxis(attrInt(node, 'axis', 1), x.length);
          out(0, [elementCount(x.slice(0, axis)), elementCount(x.slice(axis))]);
          break;
        }
        case 'Transpose': {
          const x = shapeOf(node, 0);
          const perm = attrInts(node, 'perm') ?? x.map((_, i) => x.length - 1 - i);
          out(0, perm.map((p) => x[p] ?? 1));
          break;
        }
        case 'MatMul': {
          const a = shapeOf(node, 0);
          const b = shapeOf(node, 1);
          const a2 = a.length === 1 ? [1, a[0] ?? 1] : a;
          const b2 = b.length === 1 ? [b[0] ?? 1, 1] : b;
          if (a2[a2.length - 1] !== b2[b2.length - 2]) fail(node, `inner dimensions differ: [${a.join(',')}] x [${b.join(',')}]`);
          const batch = broadcast(a2.slice(0, -2), b2.slice(0, -2));
          const dims = [...batch];
          if (a.length > 1) dims.push(a2[a2.length - 2] ?? 1);
          if (b.length > 1) dims.push(b2[b2.length - 1] ?? 1);
          out(0, dims);
          break;
        }
        case 'Gemm': {
          const a = shapeOf(node, 0);
          const b = shapeOf(node, 1);
          const m = attrInt(node, 'transA', 0) ? a[1] : a[0];
          const n = attrInt(node, 'transB', 0) ? b[0] : b[1];
          out(0, [m ?? 1, n ?? 1]);
          break;
        }
        case 'Concat': {
          const ins = (node.input ?? []).map((_, i) => shapeOf(node, i));
          const first = ins[0] ?? [];
          const axis = normAxis(attrInt(node, 'axis', 0), first.length);
          const dims = [...first];
          dims[axis] = ins.reduce((s, d) => s + (d[axis] ?? 0), 0);
          const vs = (node.input ?? []).map((_, i) => valueOf(node, i));
          out(0, dims, first.length === 1 && vs.every(Boolean) ? vs.flatMap((v) => v ?? []) : undefined);
          break;
        }
        case 'Slice': {
          const x = shapeOf(node, 0);
          const fromAttrs = opset < 10;
          const starts = fromAttrs ? attrInts(node, 'starts') : valueOf(node, 1);
          const ends = fromAttrs ? attrInts(node, 'ends') : valueOf(node, 2);
          if (!starts || !ends) fail(node, 'starts and ends must be constants');
          const axes = (fromAttrs ? attrInts(node, 'axes') : hasInput(node, 3) ? valueOf(node, 3) : undefined) ?? starts.map((_, i) => i);
          const steps = (!fromAttrs && hasInput(node, 4) ? valueOf(node, 4) : undefined) ?? starts.map(() => 1);
          const dims = [...x];
          const ranges = x.map((d) => [0, d, 1] as [number, number, number]);
          axes.forEach((a, i) => {
            const ax = normAxis(a, x.length);
            const size = x[ax] ?? 1;
            const step = steps[i] ?? 1;
            const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + size : v, lo), hi);
            const s = step > 0 ? clamp(starts[i] ?? 0, 0, size) : clamp(starts[i] ?? 0, 0, size - 1);
            const e = step > 0 ? clamp(ends[i] ?? size, 0, size) : clamp(ends[i] ?? -1, -1, size - 1);
            dims[ax] = Math.max(0, Math.ceil((e - s) / step));
            ranges[ax] = [s, e, step];
          });
          const v = valueOf(node, 0);
          let sliced: number[] | undefined;
          if (v && x.length === 1 && ranges[0]) {
            const [s, e, step] = ranges[0];
            sliced = [];
            for (let i = s; step > 0 ? i < e : i > e; i += step) sliced.push(v[i] ?? 0);
          }
          out(0, dims, sliced);
          break;
        }
        case 'Gather': {
          const data = shapeOf(node, 0);
          const idx = shapeOf(node, 1);
          const axis = normAxis(attrInt(node, 'axis', 0), data.length);
          const dims = [...data.slice(0, axis), ...idx, ...data.slice(axis + 1)];
          const v = valueOf(node, 0);
          const iv = valueOf(node, 1);
          out(0, dims, v && iv && data.length === 1 ? iv.map((i) => v[i < 0 ? i + v.length : i] ?? 0) : undefined);
          break;
        }
        case 'Squeeze':
        case 'Unsqueeze': {
          const x = shapeOf(node, 0);
          const axes = (opset >= 13 ? valueOf(node, 1) : attrInts(node, 'axes')) ?? (op === 'Squeeze' ? x.flatMap((d, i) => (d === 1 ? [i] : [])) : undefined);
          if (!axes) fail(node, 'axes are not constant');
          let dims: number[];
          if (op === 'Squeeze') {
            const set = new Set(axes.map((a) => normAxis(a, x.length)));
            dims = x.filter((_, i) => !set.has(i));
          } else {
            const rank = x.length + axes.length;
            const set = new Set(axes.map((a) => normAxis(a, rank)));
            const rest = [...x];
            dims = Array.from({ length: rank }, (_, i) => (set.has(i) ? 1 : (rest.shift() ?? 1)));
          }
          out(0, dims, valueOf(node, 0));
          break;
        }
        case 'Resize':
        case 'Upsample': {
          const x = shapeOf(node, 0);
          const sizes = op === 'Resize' && opset >= 11 && hasInput(node, 3) ? valueOf(node, 3) : undefined;
          const scaleIndex = op === 'Resize' && opset >= 11 ? 2 : 1;
          const scales = valueOf(node, scaleIndex) ?? attrFloats(node, 'scales');
          if (sizes && sizes.length === x.length) out(0, sizes);
          else if (scales && scales.length === x.length) out(0, x.map((d, i) => Math.floor(d * (scales[i] ?? 1))));
          else fail(node, 'neither scales nor sizes is a constant');
          break;
        }
        case 'Split': {
          const x = shapeOf(node, 0);
          const axis = normAxis(attrInt(node, 'axis', 0), x.length);
          const n = node.output?.length ?? 1;
          const split = (opset >= 13 ? valueOf(node, 1) : attrInts(node, 'split')) ?? Array(n).fill((x[axis] ?? 0) / n);
          split.forEach((s, i) => out(i, x.map((d, j) => (j === axis ? s : d))));
          break;
        }
        case 'ConstantOfShape':
          out(0, needValue(node, 0, 'the shape'));
          break;
        case 'Expand':
          out(0, broadcast(shapeOf(node, 0), needValue(node, 1, 'the shape')));
          break;
        case 'Pad': {
          const x = shapeOf(node, 0);
          const pads = (opset >= 11 ? valueOf(node, 1) : attrInts(node, 'pads')) ?? fail(node, 'pads are not constant');
          out(0, x.map((d, i) => d + (pads[i] ?? 0) + (pads[i + x.length] ?? 0)));
          break;
        }
        default:
          fail(node, 'operator not supported by the shape inference');
      }
    } catch (err) {
      if (err instanceof ModelError) throw err;
      fail(node, (err as Error).message);
    }
  }
  return { shapes, values };
}

function attr_end(node: Node, rank: number): number {
  const end = (node.attribute ?? []).find((a) => a.name === 'end');
  if (!end) return rank;
  const e = num(end.i);
  return e < 0 ? e + rank : Math.min(e, rank);
}

function attrFloats(node: Node, name: string): number[] | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a?.floats ? [...a.floats] : undefined;
}
