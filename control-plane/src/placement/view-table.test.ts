import { describe, expect, it } from 'vitest';
import { cpu, gpu, node } from './fixtures.ts';
import type { NodeView } from './types.ts';
import { newViewTable, refreshRows, viewAt } from './view-table.ts';

/** The view behind a proxy that counts the reads of its fields. */
function counted(view: NodeView): { view: NodeView; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(view, {
    get(target, key, receiver) {
      reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { view: proxy, reads: () => reads };
}

function tableFor(nodes: readonly NodeView[]) {
  const accBase = new Int32Array(nodes.length + 1);
  const ids: string[] = [];
  nodes.forEach((v, i) => {
    accBase[i + 1] = accBase[i]! + v.accelerators.length;
    for (const a of v.accelerators) ids.push(a.id);
  });
  const table = newViewTable(
    nodes.map((v) => v.name),
    nodes.map((v) => v.accelerators),
    ids.length,
  );
  return { table, accBase, ids };
}

describe('view table', () => {
  it('checks a frozen view by identity alone, and reads every field of an unfrozen one', () => {
    const frozen = counted(Object.freeze(node('a')));
    const open = counted(node('b'));
    const nodes = [frozen.view, open.view];
    const { table, accBase, ids } = tableFor(nodes);
    expect(refreshRows(table, nodes, accBase, ids)).toBe(true);
    const frozenReads = frozen.reads();
    const openReads = open.reads();
    expect(frozenReads).toBeGreaterThan(0);
    expect(refreshRows(table, nodes, accBase, ids)).toBe(true);
    expect(frozen.reads()).toBe(frozenReads);
    // name, accelerators, the three flags, power, network, cache, measurements, utilization, labels
    expect(open.reads() - openReads).toBeGreaterThanOrEqual(11);
  });

  it('reads a frozen view that replaced another at its position', () => {
    const first = Object.freeze(node('a', { ready: true, utilization: new Map([['gpu0', 0.5]]) }));
    const nodes: NodeView[] = [first];
    const { table, accBase, ids } = tableFor(nodes);
    refreshRows(table, nodes, accBase, ids);
    expect(table.ready[0]).toBe(1);
    nodes[0] = Object.freeze({ ...first, ready: false, utilization: new Map([['gpu0', 0.25]]) });
    expect(refreshRows(table, nodes, accBase, ids)).toBe(true);
    expect(viewAt(table, 0)).toBe(nodes[0]);
    expect(table.ready[0]).toBe(0);
    expect(table.util[0]).toBe(0.25);
  });

  it('refuses a frozen view with a new name or accelerator array: the rows are laid out again', () => {
    const accelerators = [gpu()];
    const nodes: NodeView[] = [Object.freeze(node('a', { accelerators }))];
    const { table, accBase, ids } = tableFor(nodes);
    refreshRows(table, nodes, accBase, ids);
    nodes[0] = Object.freeze(node('a', { accelerators: [cpu()] }));
    expect(refreshRows(table, nodes, accBase, ids)).toBe(false);
    nodes[0] = Object.freeze(node('b', { accelerators }));
    expect(refreshRows(table, nodes, accBase, ids)).toBe(false);
    nodes[0] = Object.freeze(node('a', { accelerators }));
    expect(refreshRows(table, nodes, accBase, ids)).toBe(true);
  });
});
