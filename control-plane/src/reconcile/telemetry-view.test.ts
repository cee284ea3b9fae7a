import { describe, expect, it } from 'vitest';
import type { NodeTelemetry } from '../fleet/telemetry.ts';
import { TelemetryView } from './telemetry-view.ts';

function fakeStore(data: Map<string, NodeTelemetry>) {
  const reads: string[][] = [];
  return {
    reads,
    readMany: async (nodes: readonly string[]) => {
      reads.push([...nodes]);
      return new Map(nodes.flatMap((n) => (data.has(n) ? [[n, structuredClone(data.get(n)!)] as const] : [])));
    },
  };
}

const tel = (battery: number, seq = 1): NodeTelemetry => ({ seq, lastSeenMs: seq, power: { source: 'battery', batteryPercent: battery } });

describe('TelemetryView', () => {
  it('reads from Redis only the nodes it holds nothing fresh for', async () => {
    let now = 1000;
    const store = fakeStore(new Map([['a', tel(80)], ['b', tel(70)]]));
    const view = new TelemetryView(store, 5000, () => now);
    await view.read(['a', 'b']);
    store.reads.length = 0;
    view.put(['a'], new Map([['a', tel(45, 2)]]), view.readStarted());
    now += 100;
    const got = await view.read(['a', 'b']);
    expect(store.reads).toEqual([]);
    expect(got.get('a')?.power).toEqual({ source: 'battery', batteryPercent: 45 });
    now += 5000;
    await view.read(['a', 'b']);
    expect(store.reads).toEqual([['a', 'b']]);
  });

  it('keeps the object of a node whose content is unchanged, and replaces it when it changed', async () => {
    let now = 0;
    const data = new Map([['a', tel(80)]]);
    const view = new TelemetryView(fakeStore(data), 0, () => now);
    const first = (await view.read(['a'])).get('a');
    data.set('a', tel(80, 7));
    now += 10;
    expect((await view.read(['a'])).get('a')).toBe(first);
    data.set('a', tel(15, 8));
    now += 10;
    const changed = (await view.read(['a'])).get('a');
    expect(changed).not.toBe(first);
    expect(changed?.power).toEqual({ source: 'battery', batteryPercent: 15 });
  });

  it('reads a node again after its change notice, even when a read older than the notice lands later', async () => {
    const data = new Map([['a', tel(80)]]);
    const store = fakeStore(data);
    const view = new TelemetryView(store, 60_000, () => 0);
    await view.read(['a']);
    const early = view.readStarted();
    data.set('a', tel(15, 2));
    view.changed('a');
    // A read that started before the change lands after the notice: still stale.
    view.put(['a'], new Map([['a', tel(80)]]), early);
    store.reads.length = 0;
    expect((await view.read(['a'])).get('a')?.power).toEqual({ source: 'battery', batteryPercent: 15 });
    expect(store.reads).toEqual([['a']]);
    await view.read(['a']);
    expect(store.reads).toEqual([['a']]);
  });

  it('leaves out nodes without a record and lets an older read not replace a newer one', async () => {
    const view = new TelemetryView(fakeStore(new Map()), 1000, () => 50);
    const older = view.readStarted();
    view.put(['a'], new Map([['a', tel(45, 2)]]), view.readStarted());
    view.put(['a'], new Map([['a', tel(80, 1)]]), older);
    expect((await view.read(['a', 'gone'])).get('a')?.power).toEqual({ source: 'battery', batteryPercent: 45 });
    expect((await view.read(['gone'])).has('gone')).toBe(false);
    view.clear();
    expect(view.size).toBe(0);
  });
});
