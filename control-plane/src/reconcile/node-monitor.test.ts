import { describe, expect, it } from 'vitest';
import { nodeReadiness } from './node-lifecycle.ts';
import { epochLoss, sweepStalled } from './node-monitor.ts';

const grace = { gracePeriodMs: 1000 };

describe('epochLoss', () => {
  it('sees no loss when both reads match what was known', () => {
    expect(epochLoss('a', { id: 'a', created: false }, { id: 'a', created: false })).toEqual({ lost: false, id: 'a' });
  });

  it('sees a loss when the first read already differs', () => {
    expect(epochLoss('a', { id: 'b', created: true }, { id: 'b', created: false })).toEqual({ lost: true, id: 'b' });
  });

  it('sees a loss when the flush lands between the epoch read and the last-seen read', () => {
    // First read: the old epoch; the flush empties every record; the second read creates a new one.
    const r = epochLoss('a', { id: 'a', created: false }, { id: 'c', created: true });
    expect(r).toEqual({ lost: true, id: 'c' });
  });

  it('treats a first sweep that created the epoch as a loss, and one that found it as none', () => {
    expect(epochLoss(undefined, { id: 'x', created: true }, { id: 'x', created: false }).lost).toBe(true);
    expect(epochLoss(undefined, { id: 'x', created: false }, { id: 'x', created: false }).lost).toBe(false);
  });

  it('keeps every node Ready through that interleaving once the loss restarts the grace period', () => {
    const termStart = 0;
    const now = 5000; // the term began long before: without the restart, empty records mean NotReady
    const flushed = { nowMs: now, lastSeenMs: null, prev: { ready: true } as const };
    expect(nodeReadiness({ ...flushed, listeningSinceMs: termStart }, grace).ready).toBe(false);
    const { lost } = epochLoss('a', { id: 'a', created: false }, { id: 'c', created: true });
    const listeningSinceMs = lost ? now : termStart;
    expect(nodeReadiness({ ...flushed, listeningSinceMs }, grace).ready).toBe(true);
  });
});

describe('sweepStalled', () => {
  it('is false for a sweep on time or late by less than an interval', () => {
    expect(sweepStalled(1000, 1000, 500)).toBe(false);
    expect(sweepStalled(1000, 1500, 500)).toBe(false);
  });

  it('is true for a sweep late by more than an interval', () => {
    expect(sweepStalled(1000, 1501, 500)).toBe(true);
  });
});
