// One entry point for "load a model and understand it": hoisted constants, checked opset,
// inferred shapes and the operation count, as inspect, quantize and profile all need.
import { checkOpset } from './opset.ts';
import { graphFlops } from './flops.ts';
import { hoistConstants, realInputs } from './graph.ts';
import { num, opsetOf, type Model, type ValueInfo } from './proto.ts';
import { inferShapes, resolveInputShapes, type ShapeTable } from './shapes.ts';
import { elementCount } from './tensor.ts';

export interface TensorSummary {
  name: string;
  elemType: number;
  /** Declared dimensions; strings are symbolic (dynamic) dimensions. */
  declared: (number | string)[];
  /** Dimensions at the analysed input size. */
  dims: number[];
}

export interface ModelSummary {
  irVersion: number;
  opset: number;
  producer: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  operators: Record<string, number>;
  nodes: number;
  parameters: number;
  gflops: number;
}

export interface Analysis {
  model: Model;
  table: ShapeTable;
  inputShapes: Map<string, number[]>;
  summary: ModelSummary;
}

function declaredDims(v: ValueInfo): (number | string)[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || num(d.dimValue) || '?');
}

/** Analyses `model` in place (Constant nodes become initializers). */
export function analyse(model: Model, shapeFlag?: Map<string, number[]>): Analysis {
  const opset = checkOpset(model);
  const graph = model.graph ?? {};
  // Counted before Constant nodes become initializers, so the counts describe the file.
  const operators: Record<string, number> = {};
  for (const n of graph.node ?? []) operators[n.opType ?? '?'] = (operators[n.opType ?? '?'] ?? 0) + 1;
  const nodes = graph.node?.length ?? 0;
  hoistConstants(graph);
  const inputShapes = resolveInputShapes(graph, shapeFlag);
  const table = inferShapes(graph, inputShapes, opset);
  const tensor = (v: ValueInfo): TensorSummary => ({
    name: v.name ?? '',
    elemType: v.type?.tensorType?.elemType ?? 0,
    declared: declaredDims(v),
    dims: table.shapes.get(v.name ?? '') ?? [],
  });
  const summary: ModelSummary = {
    irVersion: num(model.irVersion),
    opset: opsetOf(model),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    inputs: realInputs(graph).map(tensor),
    outputs: (graph.output ?? []).map(tensor),
    operators,
    nodes,
    parameters: (graph.initializer ?? []).reduce((s, t) => s + elementCount((t.dims ?? []).map(num)), 0),
    gflops: graphFlops(graph, table) / 1e9,
  };
  return { model, table, inputShapes, summary };
}
