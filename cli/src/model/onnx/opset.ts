// Upgrades a graph to opset 13, the first with per-channel DequantizeLinear. Only operators
// whose meaning is known to carry over are accepted; the rest are refused by name.
import { ModelError } from '../errors.ts';
import { attr, attrInt, attrInts, intAttr, opsetOf, setOpset, type Model, type Node } from './proto.ts';
import { floatTensor, int64Tensor } from './tensor.ts';
import { nameAllocator } from './graph.ts';

export const TARGET_OPSET = 13;
export const MIN_OPSET = 7;
export const MAX_OPSET = 21;

/** Operators whose inference semantics do not change between opset 7 and 13. */
const UNCHANGED = new Set([
  'Conv', 'ConvTranspose', 'BatchNormalization', 'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'HardSigmoid', 'Tanh',
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Reciprocal', 'Erf', 'Floor', 'Ceil',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Flatten', 'Reshape', 'Transpose', 'MatMul', 'Gemm',
  'Concat', 'Shape', 'Cast', 'Gather', 'Identity', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'Max', 'Min',
  'Equal', 'Greater', 'Less', 'Where', 'Not', 'Sum', 'Mean', 'Expand', 'ConstantOfShape', 'Constant', 'Elu', 'Selu',
  'Softplus', 'QuantizeLinear', 'DequantizeLinear', 'InstanceNormalization',
]);

export function checkOpset(model: Model): number {
  const opset = opsetOf(model);
  if (opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ModelError('UNSUPPORTED_OPSET', `opset ${opset} is not supported (supported: ${MIN_OPSET} to ${MAX_OPSET})`);
  }
  return opset;
}

/**
 * Rewrites the default-domain nodes of `model` for opset 13 in place. `rankOf` gives a
 * tensor's rank where shape inference knows it (Softmax's meaning changed with rank).
 */
export function upgradeToOpset13(model: Model, rankOf: (tensor: string) => number | undefined): void {
  const from = checkOpset(model);
  if (from >= TARGET_OPSET) return;
  const graph = model.graph ?? {};
  const fresh = nameAllocator(graph);
  const inits = graph.initializer ?? [];
  const constInput = (base: string, values: number[]) => {
    const name = fresh(base);
    inits.push(int64Tensor(name, [values.length], values));
    return name;
  };
  const nodes: Node[] = [];
  const refuse = (node: Node, why: string): never => {
    throw new ModelError('UNSUPPORTED_OPERATOR', `cannot upgrade ${node.opType} node ${node.name || node.output?.[0]} from opset ${from} to ${TARGET_OPSET}: ${why}`);
  };
  const dropAttrs = (node: Node, names: string[]) => {
    node.attribute = (node.attribute ?? []).filter((a) => !names.includes(a.name ?? ''));
  };
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    if (node.domain && node.domain !== 'ai.onnx') refuse(node, `domain ${node.domain} is not handled`);
    if (UNCHANGED.has(op)) {
      nodes.push(node);
      continue;
    }
    switch (op) {
      case 'Clip': {
        if (from < 11) {
          const min = attr(node, 'min')?.f ?? -3.4028234663852886e38;
          const max = attr(node, 'max')?.f ?? 3.4028234663852886e38;
          const minName = fresh(`${node.output?.[0]}_min`);
          const maxName = fresh(`${node.output?.[0]}_max`);
          inits.push(floatTensor(minName, [], Float32Array.of(min)), floatTensor(maxName, [], Float32Array.of(max)));
          node.input = [node.input?.[0] ?? '', minName, maxName];
          dropAttrs(node, ['min', 'max']);
        }
        nodes.push(node);
        break;
      }
      case 'Slice': {
        if (from < 10) {
          const starts = attrInts(node, 'starts') ?? refuse(node, 'no starts');
          const ends = attrInts(node, 'ends') ?? refuse(node, 'no ends');
          const axes = attrInts(node, 'axes');
          const base = node.output?.[0] ?? 'slice';
          node.input = [node.input?.[0] ?? '', constInput(`${base}_starts`, starts), constInput(`${base}_ends`, ends)];
          if (axes) node.input.push(constInput(`${base}_axes`, axes));
          dropAttrs(node, ['starts', 'ends', 'axes']);
        }
        nodes.push(node);
        break;
      }
      case 'Squeeze':
      case 'Unsqueeze':
      case 'ReduceSum': {
        const axes = attrInts(node, 'axes');
        if (axes) node.input = [node.input?.[0] ?? '', constInput(`${node.output?.[0]}_axes`, axes)];
        dropAttrs(node, ['axes']);
        nodes.push(node);
        break;
      }
      case 'Split': {
        const split = attrInts(node, 'split');
        if (split) node.input = [node.input?.[0] ?? '', constInput(`${node.output?.[0]}_split`, split)];
        dropAttrs(node, ['split']);
        nodes.push(node);
        break;
      }
      case 'Softmax':
      case 'LogSoftmax': {
        // Before 13 these flattened the input to 2-D at `axis`; equal to 13's meaning only
        // when the axis is the last one.
        const rank = rankOf(node.input?.[0] ?? '') ?? refuse(node, 'input rank unknown');
        const axis = attrInt(node, 'axis', 1);
        const last = axis < 0 ? axis + rank === rank - 1 : axis === rank - 1;
        if (!last) refuse(node, `axis ${axis} is not the last of rank ${rank}`);
        dropAttrs(node, ['axis']);
        node.attribute = [...(node.attribute ?? []), intAttr('axis', -1)];
        nodes.push(node);
        break;
      }
      case 'Resize':
        if (from < 11) refuse(node, 'opset 10 Resize has no roi input');
        nodes.push(node);
        break;
      case 'Dropout':
        if ((node.output ?? []).filter(Boolean).length > 1) refuse(node, 'mask output in use');
        nodes.push({ ...node, opType: 'Identity', attribute: [] });
        break;
      case 'Pad': {
        if (from < 11) {
          const pads = attrInts(node, 'pads') ?? refuse(node, 'no pads');
          node.input = [node.input?.[0] ?? '', constInput(`${node.output?.[0]}_pads`, pads)];
          dropAttrs(node, ['pads', 'value']);
        }
        nodes.push(node);
        break;
      }
      default:
        refuse(node, 'operator not known to carry over');
    }
  }
  graph.node = nodes;
  graph.initializer = inits;
  setOpset(model, TARGET_OPSET);
}
