// A small generated CNN (Conv-BN-Relu x2, pooling, MatMul head) for tests and benchmarks
// that need a model without the PP-OCR files: input x [N, 3, 16, 16] with a dynamic batch.
import { encodeModel, floatAttr, intAttr, intsAttr, type Model, type Node, type Tensor } from '../onnx/proto.ts';
import { floatTensor, int64Tensor } from '../onnx/tensor.ts';
import { seededRandom } from '../../random.ts';

export interface TinyModelOptions {
  opset?: number;
  /** Replaces the first Relu with this operator type (to provoke an unsupported operator). */
  reluOp?: string;
  /** A fixed batch instead of the dynamic `N`. */
  fixedBatch?: number;
}

export function tinyModel(options: TinyModelOptions = {}): Model {
  const rand = seededRandom(42);
  const weights = (name: string, dims: number[], scale: number): Tensor =>
    floatTensor(name, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * scale));
  const initializer: Tensor[] = [
    weights('w1', [32, 3, 3, 3], 0.4),
    weights('b1', [32], 0.1),
    floatTensor('bn_scale', [32], Float32Array.from({ length: 32 }, () => 0.5 + rand())),
    weights('bn_bias', [32], 0.1),
    weights('bn_mean', [32], 0.1),
    floatTensor('bn_var', [32], Float32Array.from({ length: 32 }, () => 0.5 + rand())),
    weights('w2', [64, 32, 3, 3], 0.1),
    weights('b2', [64], 0.1),
    weights('fc', [64, 10], 0.3),
    weights('fc_bias', [10], 0.1),
    int64Tensor('flat_shape', [2], [0, -1]),
  ];
  const node: Node[] = [
    { opType: 'Conv', input: ['x', 'w1', 'b1'], output: ['c1'], attribute: [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1])] },
    { opType: 'BatchNormalization', input: ['c1', 'bn_scale', 'bn_bias', 'bn_mean', 'bn_var'], output: ['n1'], attribute: [floatAttr('epsilon', 1e-5)] },
    { opType: options.reluOp ?? 'Relu', input: ['n1'], output: ['r1'] },
    { opType: 'Conv', input: ['r1', 'w2', 'b2'], output: ['c2'], attribute: [intsAttr('kernel_shape', [3, 3]), intsAttr('pads', [1, 1, 1, 1]), intsAttr('strides', [2, 2])] },
    { opType: 'Relu', input: ['c2'], output: ['r2'] },
    { opType: 'GlobalAveragePool', input: ['r2'], output: ['g'] },
    { opType: 'Reshape', input: ['g', 'flat_shape'], output: ['f'] },
    { opType: 'MatMul', input: ['f', 'fc'], output: ['m'] },
    { opType: 'Add', input: ['m', 'fc_bias'], output: ['logits'] },
    { opType: 'Softmax', input: ['logits'], output: ['y'], attribute: [intAttr('axis', 1)] },
  ];
  const batch = options.fixedBatch ? { dimValue: options.fixedBatch } : { dimParam: 'N' };
  return {
    irVersion: 7,
    opsetImport: [{ domain: '', version: options.opset ?? 11 }],
    producerName: 'edgeplane-tests',
    graph: {
      name: 'tiny',
      node,
      initializer,
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [batch, { dimValue: 3 }, { dimValue: 16 }, { dimValue: 16 }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [batch, { dimValue: 10 }] } } } }],
    },
  };
}

export function tinyModelBytes(options: TinyModelOptions = {}): Uint8Array {
  return encodeModel(tinyModel(options));
}
