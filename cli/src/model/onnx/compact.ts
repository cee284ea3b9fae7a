// Smaller files without changing the computation: short internal tensor names, no node
// names or doc strings, and one copy of identical small constants. Graph inputs and outputs
// keep their names, so callers see the same interface.
import { createHash } from 'node:crypto';
import type { Graph } from './proto.ts';

const SMALL_BYTES = 64;

export function compactGraph(graph: Graph): void {
  const keep = new Set([...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.name ?? ''));
  const renamed = new Map<string, string>();
  let counter = 0;
  const short = (name: string): string => {
    if (!name || keep.has(name)) return name;
    let s = renamed.get(name);
    if (!s) {
      do s = (counter++).toString(36);
      while (keep.has(s));
      renamed.set(name, s);
    }
    return s;
  };
  // Identical small constants (clip bounds, zero points, axes) collapse into one.
  const seen = new Map<string, string>();
  const alias = new Map<string, string>();
  const inits = [];
  for (const t of graph.initializer ?? []) {
    const raw = t.rawData;
    if (raw && raw.length <= SMALL_BYTES && !keep.has(t.name ?? '')) {
      const key = createHash('sha1').update(`${t.dataType}|${(t.dims ?? []).join(',')}|`).update(raw).digest('hex');
      const first = seen.get(key);
      if (first) {
        alias.set(t.name ?? '', first);
        continue;
      }
      seen.set(key, t.name ?? '');
    }
    inits.push(t);
  }
  const resolve = (n: string) => short(alias.get(n) ?? n);
  graph.initializer = inits.map((t) => ({ ...t, name: resolve(t.name ?? ''), docString: '' }));
  for (const n of graph.node ?? []) {
    n.input = (n.input ?? []).map(resolve);
    n.output = (n.output ?? []).map(resolve);
    n.name = '';
    n.docString = '';
  }
  // Intermediate shape hints are optional; ORT infers them again at load.
  graph.valueInfo = [];
  graph.docString = '';
}
