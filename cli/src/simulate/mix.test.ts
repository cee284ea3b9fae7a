import { describe, expect, it } from 'vitest';
import { isSimulateError } from './errors.ts';
import { assignProfiles, mixCounts, parseMix } from './mix.ts';

describe('parseMix', () => {
  const good = [
    { name: 'shares summing to one', input: 'jetson:0.2,x86-vnni:0.8', want: { jetson: 0.2, 'x86-vnni': 0.8 } },
    { name: 'weights are normalised', input: 'jetson:1,ncs2:3', want: { jetson: 0.25, ncs2: 0.75 } },
    { name: 'a bare name weighs 1', input: 'coral, ascend:1', want: { coral: 0.5, ascend: 0.5 } },
    { name: 'a zero weight drops the profile', input: 'jetson:0,rpi-battery:2', want: { 'rpi-battery': 1 } },
    { name: 'spaces and a trailing comma', input: ' jetson : 0.5 , lte-gateway:0.5,', want: { jetson: 0.5, 'lte-gateway': 0.5 } },
  ];
  for (const row of good) {
    it(row.name, () => {
      const got = Object.fromEntries(parseMix(row.input).map((e) => [e.profile, Number(e.share.toFixed(6))]));
      expect(got).toEqual(row.want);
    });
  }

  const bad = [
    { name: 'empty', input: ' , ', message: /empty/ },
    { name: 'unknown profile', input: 'jetson:0.5,toaster:0.5', message: /unknown profile "toaster"/ },
    { name: 'negative weight', input: 'jetson:-1', message: /weight of "jetson"/ },
    { name: 'weight not a number', input: 'jetson:lots', message: /weight of "jetson"/ },
    { name: 'empty weight', input: 'jetson:', message: /weight of "jetson"/ },
    { name: 'duplicate', input: 'jetson:1,jetson:2', message: /twice/ },
    { name: 'two colons', input: 'jetson:1:2', message: /more than one colon/ },
    { name: 'all zero', input: 'jetson:0,ncs2:0', message: /add up to 0/ },
  ];
  for (const row of bad) {
    it(`refuses ${row.name}`, () => {
      let caught: unknown;
      try {
        parseMix(row.input);
      } catch (err) {
        caught = err;
      }
      expect(isSimulateError(caught) && caught.code).toBe('BAD_MIX');
      expect((caught as Error).message).toMatch(row.message);
    });
  }
});

describe('mixCounts and assignProfiles', () => {
  const rows = [
    { name: 'exact shares', mix: 'jetson:0.2,x86-vnni:0.3,rpi-battery:0.3,ascend:0.1,ncs2:0.1', n: 10, want: { jetson: 2, 'x86-vnni': 3, 'rpi-battery': 3, ascend: 1, ncs2: 1 } },
    { name: 'largest remainder fills the rounding gap', mix: 'jetson:1,ncs2:1,coral:1', n: 10, want: { jetson: 4, ncs2: 3, coral: 3 } },
    { name: 'fewer nodes than profiles', mix: 'jetson:0.5,ncs2:0.3,coral:0.2', n: 1, want: { jetson: 1, ncs2: 0, coral: 0 } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const mix = parseMix(row.mix);
      expect(Object.fromEntries(mixCounts(mix, row.n))).toEqual(row.want);
      const assigned = assignProfiles(mix, row.n);
      expect(assigned).toHaveLength(row.n);
      const tally: Record<string, number> = {};
      for (const p of assigned) tally[p] = (tally[p] ?? 0) + 1;
      expect(tally).toEqual(Object.fromEntries(Object.entries(row.want).filter(([, c]) => c > 0)));
    });
  }

  it('interleaves, so a prefix of the fleet has about the whole mix', () => {
    const assigned = assignProfiles(parseMix('jetson:0.5,rpi-battery:0.5'), 1000);
    const firstTen = assigned.slice(0, 10).filter((p) => p === 'jetson').length;
    expect(firstTen).toBe(5);
  });
});
