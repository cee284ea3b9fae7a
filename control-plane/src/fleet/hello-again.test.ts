import { describe, expect, it } from 'vitest';
import { decode, NodeCommand } from '@edgeplane/api';
import { HelloAgain } from './hello-again.ts';

function recorder(o: { perNodeMs: number; perSecond?: number; maxNodes?: number }) {
  const sent: { node: string; op: string | undefined }[] = [];
  const h = new HelloAgain({
    ...o,
    send: (node, data) => {
      const cmd = decode(NodeCommand, 'node command', data);
      sent.push({ node, op: cmd.ok ? cmd.value.op : undefined });
    },
  });
  return { h, sent };
}

describe('HelloAgain', () => {
  it('asks an unknown node for a hello at once, then not again before perNodeMs', () => {
    const { h, sent } = recorder({ perNodeMs: 10_000 });
    expect(h.unknownHeartbeat('n1', 0)).toBe(true);
    expect(sent).toEqual([{ node: 'n1', op: 'hello' }]);
    expect(h.unknownHeartbeat('n1', 200)).toBe(false);
    expect(h.unknownHeartbeat('n1', 9_999)).toBe(false);
    expect(h.unknownHeartbeat('n1', 10_000)).toBe(true);
    expect(h.counts()).toEqual({ asked: 2, limited: 2 });
  });

  it('caps asks across nodes per second', () => {
    const { h, sent } = recorder({ perNodeMs: 10_000, perSecond: 3 });
    const asked = ['a', 'b', 'c', 'd', 'e'].map((n) => h.unknownHeartbeat(n, 0));
    expect(asked).toEqual([true, true, true, false, false]);
    // One more earned back a third of a second later.
    expect(h.unknownHeartbeat('f', 334)).toBe(true);
    expect(sent.map((s) => s.node)).toEqual(['a', 'b', 'c', 'f']);
  });

  it('remembers at most maxNodes nodes: a flood of names does not grow its memory', () => {
    const { h } = recorder({ perNodeMs: 10_000, perSecond: 1_000_000, maxNodes: 100 });
    for (let i = 0; i < 10_000; i++) h.unknownHeartbeat(`n${i}`, i);
    expect(h.tracked).toBe(100);
    // The most recent ones are still paced.
    expect(h.unknownHeartbeat('n9999', 10_000)).toBe(false);
  });
});
