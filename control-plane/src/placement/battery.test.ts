import { describe, expect, it } from 'vitest';
import type { Power, Precision } from '@edgeplane/api';
import { batteryCap, capFor, capSentence } from './battery.ts';
import { crossesTierBoundary } from './boundary.ts';
import type { NodeTelemetry } from './boundary.ts';
import { makeSpec } from './fixtures.ts';

const thresholds = { fp16BelowPercent: 50, int8BelowPercent: 20, hysteresisPercent: 5 };

describe('batteryCap', () => {
  const rows: Array<{ name: string; percent: number; previous?: Precision; want: Precision }> = [
    { name: 'full battery, no cap', percent: 90, want: 'fp32' },
    { name: 'at the fp16 threshold, no cap', percent: 50, want: 'fp32' },
    { name: 'just under fp16 threshold', percent: 49.9, want: 'fp16' },
    { name: 'at the int8 threshold', percent: 20, want: 'fp16' },
    { name: 'under int8 threshold', percent: 19, want: 'int8' },
    { name: 'empty', percent: 0, want: 'int8' },
    { name: 'int8 held inside the hysteresis band', percent: 24, previous: 'int8', want: 'int8' },
    { name: 'int8 lifted to fp16 past the band', percent: 25, previous: 'int8', want: 'fp16' },
    { name: 'int8 lifted all the way past the fp16 band', percent: 56, previous: 'int8', want: 'fp32' },
    { name: 'fp16 held inside its band', percent: 54, previous: 'fp16', want: 'fp16' },
    { name: 'fp16 lifted past its band', percent: 55, previous: 'fp16', want: 'fp32' },
    { name: 'a cap tightens at once regardless of the previous one', percent: 19, previous: 'fp32', want: 'int8' },
    { name: 'an uncapped node stays uncapped inside the band', percent: 52, previous: 'fp32', want: 'fp32' },
    { name: 'fp16 is not tightened by the int8 band', percent: 22, previous: 'fp16', want: 'fp16' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(batteryCap(row.percent, thresholds, row.previous)).toBe(row.want);
    });
  }

  it('does not flap while the battery oscillates 2% around a threshold', () => {
    for (const threshold of [20, 50]) {
      let cap: Precision | undefined;
      const caps: Precision[] = [];
      for (let i = 0; i < 20; i++) {
        cap = batteryCap(threshold + (i % 2 === 0 ? -2 : 2), thresholds, cap);
        caps.push(cap);
      }
      expect(new Set(caps).size).toBe(1);
    }
  });
});

describe('capFor', () => {
  const rows: Array<{ name: string; power: Power | undefined; want: Precision }> = [
    { name: 'no power report', power: undefined, want: 'fp32' },
    { name: 'mains', power: { source: 'mains' }, want: 'fp32' },
    { name: 'mains with a low UPS battery', power: { source: 'mains', batteryPercent: 5 }, want: 'fp32' },
    { name: 'charging battery', power: { source: 'battery', batteryPercent: 10, charging: true }, want: 'fp32' },
    { name: 'battery of unknown level', power: { source: 'battery' }, want: 'fp32' },
    { name: 'battery at 10%', power: { source: 'battery', batteryPercent: 10 }, want: 'int8' },
    { name: 'solar at 30%', power: { source: 'solar', batteryPercent: 30 }, want: 'fp16' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(capFor(row.power, thresholds)).toBe(row.want);
    });
  }

  it('explains a held cap and a fresh one', () => {
    expect(capSentence({ source: 'battery', batteryPercent: 18 }, thresholds, 'int8')).toBe('battery 18% below 20%: capped at int8');
    expect(capSentence({ source: 'battery', batteryPercent: 22 }, thresholds, 'int8')).toBe('battery 22%: int8 cap held until 25%');
    expect(capSentence({ source: 'mains' }, thresholds, 'fp32')).toBeUndefined();
  });
});

describe('crossesTierBoundary', () => {
  const spec = makeSpec();
  const at = (batteryPercent: number, fields: Partial<NodeTelemetry> = {}): NodeTelemetry => ({
    power: { source: 'battery', batteryPercent },
    network: { type: 'ethernet' },
    ready: true,
    ...fields,
  });
  const rows: Array<{ name: string; before: NodeTelemetry; after: NodeTelemetry; previous?: Precision; want: boolean }> = [
    { name: 'battery drift inside a tier', before: at(80), after: at(70), want: false },
    { name: 'battery drops under fp16', before: at(51), after: at(49), want: true },
    { name: 'battery drops under int8', before: at(21), after: at(19), want: true },
    { name: 'battery climbs back inside the hysteresis band', before: at(19), after: at(22), previous: 'int8', want: false },
    { name: 'battery climbs past the band', before: at(19), after: at(26), previous: 'int8', want: true },
    { name: 'oscillation +-2% under a held cap', before: at(18), after: at(22), previous: 'int8', want: false },
    { name: 'plugged in under a cap', before: at(10), after: { ...at(10), power: { source: 'mains' } }, want: true },
    { name: 'link moves to cellular-4g', before: at(80), after: at(80, { network: { type: 'cellular-4g' } }), want: true },
    { name: 'link moves between two full classes', before: at(80), after: at(80, { network: { type: 'wifi' } }), want: false },
    { name: 'lora to cellular-4g stays lite', before: at(80, { network: { type: 'lora' } }), after: at(80, { network: { type: 'cellular-4g' } }), want: false },
    { name: 'node turns unreachable', before: at(80), after: at(80, { ready: false }), want: true },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(crossesTierBoundary(spec, row.before, row.after, row.previous)).toBe(row.want);
    });
  }
});
