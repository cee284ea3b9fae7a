import { describe, expect, it } from 'vitest';
import { EdgeNode } from '@edgeplane/api';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import { FleetViews } from './fleet-views.ts';

const edgeNode = (name: string) =>
  EdgeNode.parse({
    apiVersion: 'edgeplane.io/v1alpha1',
    kind: 'EdgeNode',
    metadata: { name },
    spec: {},
    status: { accelerators: [{ id: 'cpu0', type: 'CPU', memoryMiB: 4096, precisions: ['fp32'], tops: { fp32: 1 } }] },
  });
const ready = () => ({ ready: true, evicted: false });

describe('FleetViews', () => {
  it('keeps the list and every unchanged view, replacing only the changed node', () => {
    const nodes = [edgeNode('a'), edgeNode('b'), edgeNode('c')];
    const t = new Map<string, NodeTelemetry>(nodes.map((n) => [n.metadata.name!, { seq: 1, lastSeenMs: 1, power: { source: 'mains' } }]));
    const views = new FleetViews();
    const first = views.views(nodes, t, 0, ready, () => undefined);
    const [a, b, c] = first;
    t.set('b', { seq: 2, lastSeenMs: 2, power: { source: 'battery', batteryPercent: 15 } });
    const second = views.views(nodes, t, 1, ready, () => undefined);
    expect(second).toBe(first);
    expect(second[0]).toBe(a);
    expect(second[2]).toBe(c);
    expect(second[1]).not.toBe(b);
    expect(second[1]?.power).toEqual({ source: 'battery', batteryPercent: 15 });
    // Frozen: a plan then checks each view by identity alone (placement/view-table.ts).
    expect(second.every((v) => Object.isFrozen(v))).toBe(true);
    // A status write (a new EdgeNode object, the heartbeat time changed) keeps the view: nothing
    // the plan reads of it changed.
    const written = { ...structuredClone(nodes[2]!), status: { ...nodes[2]!.status, lastHeartbeatTime: '2026-01-01T00:00:00Z' } };
    const third = views.views([nodes[0]!, nodes[1]!, written], t, 2, ready, () => undefined);
    expect(third[2]).toBe(c);
    // A new label is a new view, which keeps the accelerators object the planner knows.
    const labelled = { ...structuredClone(nodes[2]!), metadata: { ...nodes[2]!.metadata, labels: { zone: 'z1' } } };
    const fourth = views.views([nodes[0]!, nodes[1]!, labelled], t, 3, ready, () => undefined);
    expect(fourth[2]).not.toBe(c);
    expect(fourth[2]?.labels).toEqual({ zone: 'z1' });
    expect(fourth[2]?.accelerators).toBe(c?.accelerators);
  });

  it('builds a new view when the lifecycle decision or a variant digest changes, a new list when members change', () => {
    const nodes = [edgeNode('a'), edgeNode('b')];
    const t = new Map<string, NodeTelemetry>([['a', { seq: 1, lastSeenMs: 1, workloads: [{ key: 'ns/d', variant: 'v', accelerator: 'cpu0', phase: 'Ready', p99Ms: 9 }] }]]);
    let sha = 'x'.repeat(64);
    let life = { ready: true, evicted: false };
    const views = new FleetViews();
    const first = views.views(nodes, t, 0, (n) => (n === 'b' ? life : ready()), () => sha);
    const [a, b] = first;
    life = { ready: false, evicted: true };
    sha = 'y'.repeat(64);
    const second = views.views(nodes, t, 0, (n) => (n === 'b' ? life : ready()), () => sha);
    expect(second[1]).not.toBe(b);
    expect(second[1]?.ready).toBe(false);
    expect(second[0]).not.toBe(a);
    expect([...second[0]!.measuredP99Ms.keys()]).toEqual([`${sha}@cpu0`]);
    const third = views.views([nodes[1]!], t, 0, () => life, () => sha);
    expect(third).not.toBe(second);
    expect(third[0]).toBe(second[1]);
  });

  it('reads variant digests again only when their version changes', () => {
    const nodes = [edgeNode('a')];
    const t = new Map<string, NodeTelemetry>([['a', { seq: 1, lastSeenMs: 1, workloads: [{ key: 'ns/d', variant: 'v', accelerator: 'cpu0', phase: 'Ready', p99Ms: 9 }] }]]);
    let asked = 0;
    let sha = 'x'.repeat(64);
    const digestOf = () => (asked++, sha);
    const views = new FleetViews();
    const [a] = views.views(nodes, t, 0, ready, digestOf, 'g1');
    const built = asked;
    const [same] = views.views(nodes, t, 1, ready, digestOf, 'g1');
    expect(same).toBe(a);
    expect(asked).toBe(built);
    sha = 'y'.repeat(64);
    const [respecified] = views.views(nodes, t, 2, ready, digestOf, 'g2');
    expect(asked).toBeGreaterThan(built);
    expect([...respecified!.measuredP99Ms.keys()]).toEqual([`${sha}@cpu0`]);
    // Without a version every call asks.
    const before = asked;
    views.views(nodes, t, 3, ready, digestOf);
    expect(asked).toBeGreaterThan(before);
  });
});
