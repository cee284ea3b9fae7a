// The fleet as the page knows it: the snapshot from /fleet with the stream's upserts applied.
// Pure, so the ordering rules (a newer rev wins, events that arrive before the snapshot are
// kept) are unit-tested without a browser.
import type { DashboardEvent, FleetDeployment, FleetNode, FleetSnapshot, HistorySample } from '../../api/src/dashboard.ts';

export interface FleetState {
  nodes: Map<string, FleetNode>;
  deployments: Map<string, FleetDeployment>;
  /** Server time of the last snapshot, or null before one. */
  atMs: number | null;
}

export const deploymentKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export function emptyState(): FleetState {
  return { nodes: new Map(), deployments: new Map(), atMs: null };
}

/**
 * The snapshot replaces the state, except for objects the stream already delivered at a newer
 * rev (the stream opens first, the snapshot is read after its hello).
 */
export function applySnapshot(state: FleetState, snapshot: FleetSnapshot): FleetState {
  const nodes = new Map<string, FleetNode>();
  for (const node of snapshot.nodes) {
    const seen = state.nodes.get(node.name);
    nodes.set(node.name, seen && seen.rev > node.rev ? seen : node);
  }
  const deployments = new Map<string, FleetDeployment>();
  for (const d of snapshot.deployments) {
    const key = deploymentKey(d.namespace, d.name);
    const seen = state.deployments.get(key);
    deployments.set(key, seen && seen.rev > d.rev ? seen : d);
  }
  return { nodes, deployments, atMs: snapshot.atMs };
}

export type Change =
  | { kind: 'none' }
  | { kind: 'node'; name: string }
  | { kind: 'deployment'; key: string }
  | { kind: 'sample'; node: string; sample: HistorySample }
  | { kind: 'hello' };

/** Applies one stream event in place; says what changed so views refresh only what they show. */
export function applyEvent(state: FleetState, event: DashboardEvent): Change {
  switch (event.type) {
    case 'hello':
      return { kind: 'hello' };
    case 'node': {
      const seen = state.nodes.get(event.node.name);
      if (seen && seen.rev >= event.node.rev) return { kind: 'none' };
      state.nodes.set(event.node.name, event.node);
      return { kind: 'node', name: event.node.name };
    }
    case 'node-removed':
      return state.nodes.delete(event.name) ? { kind: 'node', name: event.name } : { kind: 'none' };
    case 'deployment': {
      const key = deploymentKey(event.deployment.namespace, event.deployment.name);
      const seen = state.deployments.get(key);
      if (seen && seen.rev >= event.deployment.rev) return { kind: 'none' };
      state.deployments.set(key, event.deployment);
      return { kind: 'deployment', key };
    }
    case 'deployment-removed': {
      const key = deploymentKey(event.namespace, event.name);
      return state.deployments.delete(key) ? { kind: 'deployment', key } : { kind: 'none' };
    }
    case 'sample':
      return { kind: 'sample', node: event.node, sample: event.sample };
  }
}
