// `edgeplane model inspect <model.onnx>`: inputs, outputs, opset, operator counts, GFLOPs.
import { analyse, type ModelSummary } from './onnx/analyse.ts';
import { loadModel } from './onnx/proto.ts';

export function inspectModel(path: string, shape?: Map<string, number[]>): ModelSummary {
  return analyse(loadModel(path), shape).summary;
}

const ELEM: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64' };

export function formatSummary(path: string, s: ModelSummary): string {
  const tensor = (t: ModelSummary['inputs'][number]) => `  ${t.name}: ${ELEM[t.elemType] ?? `type ${t.elemType}`} [${t.declared.join(', ')}] -> [${t.dims.join(', ')}]`;
  const ops = Object.entries(s.operators).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return [
    `${path}`,
    `ir ${s.irVersion}, opset ${s.opset}${s.producer ? `, producer ${s.producer}` : ''}`,
    'inputs:',
    ...s.inputs.map(tensor),
    'outputs:',
    ...s.outputs.map(tensor),
    `operators (${s.nodes} nodes):`,
    ...ops.map(([op, n]) => `  ${op.padEnd(22)} ${n}`),
    `parameters: ${s.parameters}`,
    `GFLOPs: ${s.gflops.toFixed(4)} at [${s.inputs.map((i) => i.dims.join('x')).join(', ')}]`,
    '',
  ].join('\n');
}
