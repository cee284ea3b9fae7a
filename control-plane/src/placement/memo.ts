// Facts about input objects that do not depend on the deployment, remembered per object so a
// reconcile pass planning many deployments over one node list computes them once. Keyed by
// object identity in WeakMaps: nothing outlives its input, and the planner stays pure.
import { PlacementErrorCode, PlacementInputError } from './errors.ts';
import type { NodeView } from './types.ts';

const committedKeyCache = new WeakMap<NodeView, readonly string[]>();

/** `${node}/${acceleratorId}` for each accelerator: the keys of PlanInput.committedMiB. */
export function committedKeys(view: NodeView): readonly string[] {
  let keys = committedKeyCache.get(view);
  if (keys === undefined) {
    keys = view.accelerators.map((a) => `${view.name}/${a.id}`);
    committedKeyCache.set(view, keys);
  }
  return keys;
}

const nameIndexCache = new WeakMap<readonly NodeView[], Map<string, number>>();

function buildNameIndex(nodes: readonly NodeView[]): Map<string, number> {
  const index = new Map<string, number>();
  for (let i = 0; i < nodes.length; i++) {
    const name = nodes[i]!.name;
    if (index.has(name)) throw new PlacementInputError(PlacementErrorCode.DuplicateNode, `node ${name} appears twice in the plan input`);
    index.set(name, i);
  }
  return index;
}

/**
 * Position of each node by name; throws PlacementInputError on a duplicate name. The node list
 * is `readonly` in the contract; a list whose length changed is indexed again.
 */
export function nameIndex(nodes: readonly NodeView[]): Map<string, number> {
  let index = nameIndexCache.get(nodes);
  if (index === undefined || index.size !== nodes.length) {
    index = buildNameIndex(nodes);
    nameIndexCache.set(nodes, index);
  }
  return index;
}

/** The node's position, checked against the list so a list changed in place cannot mislead. */
export function indexOfNode(nodes: readonly NodeView[], name: string): number | undefined {
  const i = nameIndex(nodes).get(name);
  if (i === undefined || nodes[i]?.name === name) return i;
  nameIndexCache.delete(nodes);
  return nameIndex(nodes).get(name);
}
