import { describe, expect, it } from 'vitest';
import { EventSeries } from './event-series.ts';

describe('EventSeries', () => {
  let n = 0;
  const name = () => `ev-${++n}`;

  it('creates one Event, gives it a series on the second occurrence, then only counts', () => {
    const s = new EventSeries();
    const first = s.observe('k', 0, name);
    expect(first.kind).toBe('create');
    expect(s.observe('k', 1000, name)).toMatchObject({ kind: 'series', entry: { name: first.entry.name, count: 2 } });
    for (let i = 0; i < 100; i++) expect(s.observe('k', 2000 + i, name).kind).toBe('none');
    expect(s.observe('other', 3000, name).kind).toBe('create');
    expect(s.size).toBe(2);
  });

  it('writes a moved series on the refresh period, not before', () => {
    const s = new EventSeries({ refreshMs: 60_000, finishMs: 600_000 });
    s.observe('k', 0, name);
    s.observe('k', 1, name);
    s.observe('k', 2, name);
    expect(s.due(30_000)).toEqual([]);
    expect(s.due(60_001).map((e) => e.count)).toEqual([3]);
    // Nothing new since: nothing due.
    expect(s.due(200_000)).toEqual([]);
  });

  it('finishes a series idle for finishMs: the next occurrence is a new Event', () => {
    const s = new EventSeries({ finishMs: 360_000 });
    const a = s.observe('k', 0, name);
    s.observe('k', 1, name);
    s.observe('k', 2, name);
    expect(s.finish(400_000).map((e) => e.count)).toEqual([3]);
    const b = s.observe('k', 400_001, name);
    expect(b.kind).toBe('create');
    expect(b.entry.name).not.toBe(a.entry.name);
  });

  it('a flapping cause writes two objects per window, however often it flaps', () => {
    const s = new EventSeries();
    let writes = 0;
    for (let i = 0; i < 10_000; i++) if (s.observe('flap', i * 10, name).kind !== 'none') writes++;
    expect(writes).toBe(2);
  });
});
