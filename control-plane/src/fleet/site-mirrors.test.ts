import { describe, expect, it } from 'vitest';
import { DEFAULT_MIRROR_TIMINGS, decideMirror, type MirrorObservation, type MirrorState } from './site-mirrors.ts';

const t = DEFAULT_MIRROR_TIMINGS;
const NOW = 1_000_000;
const seen = (o: Partial<MirrorObservation>): MirrorObservation => ({ reachable: true, mirror: true, silentMs: 500, ...o });

describe('decideMirror', () => {
  const rows: { name: string; state: MirrorState; seen: MirrorObservation; want: { recreate: boolean; state: MirrorState } }[] = [
    { name: 'following: nothing', state: {}, seen: seen({}), want: { recreate: false, state: {} } },
    { name: 'link down: nothing, and the stall clock restarts', state: { stalledSinceMs: NOW - 60_000 }, seen: seen({ reachable: false, silentMs: null }), want: { recreate: false, state: {} } },
    { name: 'not a mirror: never touched', state: { stalledSinceMs: NOW - 60_000 }, seen: seen({ mirror: false, silentMs: 90_000 }), want: { recreate: false, state: {} } },
    { name: 'silent at the stall limit: not yet stalled', state: {}, seen: seen({ silentMs: t.stallMs }), want: { recreate: false, state: {} } },
    { name: 'first seen stalled: the grace period starts', state: {}, seen: seen({ silentMs: 70_000 }), want: { recreate: false, state: { stalledSinceMs: NOW } } },
    { name: 'stalled within the grace period: waits', state: { stalledSinceMs: NOW - t.graceMs + 1 }, seen: seen({ silentMs: 70_000 }), want: { recreate: false, state: { stalledSinceMs: NOW - t.graceMs + 1 } } },
    { name: 'stalled for the grace period: created again', state: { stalledSinceMs: NOW - t.graceMs }, seen: seen({ silentMs: 70_000 }), want: { recreate: true, state: { recreatedAtMs: NOW } } },
    { name: 'never heard from the hub, past the grace period: created again', state: { stalledSinceMs: NOW - t.graceMs }, seen: seen({ silentMs: null }), want: { recreate: true, state: { recreatedAtMs: NOW } } },
    { name: 'resumed by itself within the grace period: forgotten', state: { stalledSinceMs: NOW - 1000 }, seen: seen({ silentMs: 200 }), want: { recreate: false, state: {} } },
    {
      name: 'stalled again within the cooldown: waits',
      state: { stalledSinceMs: NOW - t.graceMs, recreatedAtMs: NOW - t.cooldownMs + 1 },
      seen: seen({ silentMs: null }),
      want: { recreate: false, state: { stalledSinceMs: NOW - t.graceMs, recreatedAtMs: NOW - t.cooldownMs + 1 } },
    },
    {
      name: 'stalled after the cooldown: created again',
      state: { stalledSinceMs: NOW - t.graceMs, recreatedAtMs: NOW - t.cooldownMs },
      seen: seen({ silentMs: 30_000 }),
      want: { recreate: true, state: { recreatedAtMs: NOW } },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(decideMirror(row.state, row.seen, NOW, t)).toEqual(row.want);
    });
  }
});
