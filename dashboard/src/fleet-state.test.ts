import { describe, expect, it } from 'vitest';
import type { FleetDeployment, FleetNode } from '../../api/src/dashboard.ts';
import { applyEvent, applySnapshot, emptyState } from './fleet-state.ts';

const node = (name: string, rev: number, batteryPercent = 50): FleetNode => ({
  name,
  site: null,
  labels: {},
  unschedulable: false,
  ready: true,
  reachable: true,
  accelerators: [],
  power: { source: 'battery', batteryPercent, charging: false },
  link: null,
  workloads: [],
  rev,
});
const deployment = (rev: number): FleetDeployment => ({
  namespace: 'w',
  name: 'd',
  replicas: 1,
  readyReplicas: 1,
  unplacedReplicas: 0,
  phases: {},
  precisions: {},
  conditions: [],
  degraded: null,
  rev,
});

describe('fleet state', () => {
  it('an upsert with a newer rev replaces the node; an older or equal one is ignored', () => {
    const state = applySnapshot(emptyState(), { atMs: 1, nodes: [node('a', 5)], deployments: [] });
    expect(applyEvent(state, { type: 'node', node: node('a', 5, 10) })).toEqual({ kind: 'none' });
    expect(applyEvent(state, { type: 'node', node: node('a', 4, 10) })).toEqual({ kind: 'none' });
    expect(applyEvent(state, { type: 'node', node: node('a', 6, 10) })).toEqual({ kind: 'node', name: 'a' });
    expect(state.nodes.get('a')?.power?.batteryPercent).toBe(10);
  });

  it('a snapshot keeps what the stream delivered at a newer rev, and drops what it no longer lists', () => {
    const state = emptyState();
    applyEvent(state, { type: 'node', node: node('a', 9, 15) });
    applyEvent(state, { type: 'node', node: node('gone', 1) });
    applyEvent(state, { type: 'deployment', deployment: deployment(3) });
    const next = applySnapshot(state, { atMs: 2, nodes: [node('a', 8, 40), node('b', 1)], deployments: [deployment(2)] });
    expect(next.nodes.get('a')?.rev).toBe(9);
    expect([...next.nodes.keys()].sort()).toEqual(['a', 'b']);
    expect(next.deployments.get('w/d')?.rev).toBe(3);
  });

  it('removals say what changed only when something was there', () => {
    const state = applySnapshot(emptyState(), { atMs: 1, nodes: [node('a', 1)], deployments: [deployment(1)] });
    expect(applyEvent(state, { type: 'node-removed', name: 'a' })).toEqual({ kind: 'node', name: 'a' });
    expect(applyEvent(state, { type: 'node-removed', name: 'a' })).toEqual({ kind: 'none' });
    expect(applyEvent(state, { type: 'deployment-removed', namespace: 'w', name: 'd' })).toEqual({ kind: 'deployment', key: 'w/d' });
  });
});
