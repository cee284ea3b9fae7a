// Graph bookkeeping shared by the passes: initializer lookup, unique names, and hoisting
// Constant nodes into initializers (paddle2onnx exports keep every weight in a Constant).
import { attr, num, type Graph, type Node, type Tensor } from './proto.ts';
import { floatTensor, int64Tensor } from './tensor.ts';

export function initializerMap(graph: Graph): Map<string, Tensor> {
  return new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
}

/** Fresh names that collide with nothing already in the graph. */
export function nameAllocator(graph: Graph): (base: string) => string {
  const used = new Set<string>();
  for (const t of graph.initializer ?? []) used.add(t.name ?? '');
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) used.add(v.name ?? '');
  for (const n of graph.node ?? []) {
    for (const o of n.output ?? []) used.add(o);
    if (n.name) used.add(n.name);
  }
  return (base: string) => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
}

/** Nodes reading each tensor name. */
export function consumersOf(graph: Graph): Map<string, Node[]> {
  const map = new Map<string, Node[]>();
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = map.get(i);
      if (list) list.push(n);
      else map.set(i, [n]);
    }
  }
  return map;
}

function constantTensor(node: Node): Tensor | undefined {
  const name = node.output?.[0] ?? '';
  const value = attr(node, 'value');
  if (value?.t) return { ...value.t, name };
  const f = attr(node, 'value_float');
  if (f) return floatTensor(name, [], Float32Array.of(f.f ?? 0));
  const fs = attr(node, 'value_floats');
  if (fs) return floatTensor(name, [fs.floats?.length ?? 0], Float32Array.from(fs.floats ?? []));
  const i = attr(node, 'value_int');
  if (i) return int64Tensor(name, [], [num(i.i)]);
  const is = attr(node, 'value_ints');
  if (is) return int64Tensor(name, [is.ints?.length ?? 0], (is.ints ?? []).map(num));
  return undefined;
}

/** Moves Constant nodes into graph initializers so passes see weights in one place. */
export function hoistConstants(graph: Graph): void {
  const kept: Node[] = [];
  const inits = graph.initializer ?? [];
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  for (const node of graph.node ?? []) {
    const tensor = node.opType === 'Constant' && !outputs.has(node.output?.[0]) ? constantTensor(node) : undefined;
    if (tensor) inits.push(tensor);
    else kept.push(node);
  }
  graph.node = kept;
  graph.initializer = inits;
}

/** Drops initializers nothing reads any more (after a pass replaced them). */
export function dropUnusedInitializers(graph: Graph): void {
  const read = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) read.add(i);
  for (const o of graph.output ?? []) read.add(o.name ?? '');
  const dropped = new Set((graph.initializer ?? []).filter((t) => !read.has(t.name ?? '')).map((t) => t.name));
  graph.initializer = (graph.initializer ?? []).filter((t) => !dropped.has(t.name));
  // Initializers repeated as graph inputs (IR < 4 style) go with them.
  graph.input = (graph.input ?? []).filter((i) => !dropped.has(i.name));
}

/** Graph inputs that are real inputs, not initializers repeated as inputs. */
export function realInputs(graph: Graph) {
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((i) => !inits.has(i.name));
}
