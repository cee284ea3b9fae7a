import { describe, expect, it } from 'vitest';
import { isSimulateError } from './errors.ts';
import { conditionsAt, parseTimeline, resolveTimeline, selectNodes, timelineEndSec, type NodeConditions, type NodeRef } from './timeline.ts';

const fleet: NodeRef[] = [
  { name: 'sim-00001', profile: 'jetson' },
  { name: 'sim-00002', profile: 'rpi-battery' },
  { name: 'sim-00003', profile: 'rpi-battery' },
  { name: 'sim-00004', profile: 'x86-vnni' },
  { name: 'sim-00005', profile: 'rpi-battery' },
];

describe('parseTimeline', () => {
  it('reads events with defaults', () => {
    const t = parseTimeline(['events:', '  - at: 30', '    nodes: {profile: rpi-battery, count: 2}', '    battery: {drainPercentPerMin: 20}', '  - at: 5', '    silent: true'].join('\n'));
    expect(t.events).toHaveLength(2);
    expect(t.events[1]!.nodes).toEqual({});
    expect(timelineEndSec(t)).toBe(30);
  });

  it('an empty file is an empty timeline', () => {
    expect(parseTimeline('').events).toEqual([]);
  });

  const bad = [
    { name: 'not YAML', text: 'events: [', message: /not valid YAML/ },
    { name: 'negative time', text: 'events: [{at: -1, silent: true}]', message: /events\.0\.at/ },
    { name: 'event without an action', text: 'events: [{at: 3}]', message: /battery, link or silent/ },
    { name: 'unknown link type', text: 'events: [{at: 3, link: {type: carrier-pigeon}}]', message: /events\.0\.link\.type/ },
    { name: 'unknown profile', text: 'events: [{at: 3, nodes: {profile: toaster}, silent: true}]', message: /events\.0\.nodes\.profile/ },
    { name: 'two selectors', text: 'events: [{at: 3, nodes: {count: 2, fraction: 0.5}, silent: true}]', message: /at most one/ },
    { name: 'unknown field', text: 'events: [{at: 3, silent: true, explode: yes}]', message: /explode/ },
  ];
  for (const row of bad) {
    it(`refuses ${row.name}`, () => {
      let caught: unknown;
      try {
        parseTimeline(row.text, 'tl.yaml');
      } catch (err) {
        caught = err;
      }
      expect(isSimulateError(caught) && caught.code).toBe('BAD_TIMELINE');
      expect((caught as Error).message).toMatch(row.message);
    });
  }
});

describe('selectNodes', () => {
  const rows = [
    { name: 'everything', selector: {}, want: ['sim-00001', 'sim-00002', 'sim-00003', 'sim-00004', 'sim-00005'] },
    { name: 'a profile', selector: { profile: 'rpi-battery' as const }, want: ['sim-00002', 'sim-00003', 'sim-00005'] },
    { name: 'first n of a profile', selector: { profile: 'rpi-battery' as const, count: 2 }, want: ['sim-00002', 'sim-00003'] },
    { name: 'a fraction rounds up', selector: { fraction: 0.3 }, want: ['sim-00001', 'sim-00002'] },
    { name: 'by name', selector: { names: ['sim-00004'] }, want: ['sim-00004'] },
  ];
  for (const row of rows) it(row.name, () => expect(selectNodes(row.selector, fleet)).toEqual(row.want));

  it('refuses a name that is not simulated', () => {
    expect(() => selectNodes({ names: ['sim-09999'] }, fleet)).toThrow(expect.objectContaining({ code: 'UNKNOWN_NODE' }));
  });

  it('resolves events per node in time order', () => {
    const t = parseTimeline('events: [{at: 9, nodes: {names: [sim-00002]}, silent: true}, {at: 1, nodes: {profile: rpi-battery}, battery: {percent: 40}}]');
    const byNode = resolveTimeline(t, fleet);
    expect(byNode.get('sim-00002')!.map((e) => e.at)).toEqual([1, 9]);
    expect(byNode.get('sim-00005')!.map((e) => e.at)).toEqual([1]);
    expect(byNode.has('sim-00001')).toBe(false);
  });
});

describe('conditionsAt', () => {
  const battery: NodeConditions = { power: { source: 'battery', batteryPercent: 80, charging: false }, network: { type: 'cellular-4g', bandwidthMbps: 12 }, silent: false };
  const mains: NodeConditions = { power: { source: 'mains' }, network: { type: 'ethernet', bandwidthMbps: 940 }, silent: false };
  const drain = parseTimeline(
    ['events:', '  - {at: 10, battery: {drainPercentPerMin: 30}}', '  - {at: 70, battery: {drainPercentPerMin: 0}}', '  - {at: 100, link: {type: lora, bandwidthMbps: 0.05}}', '  - {at: 120, silent: true}', '  - {at: 180, silent: false}'].join('\n'),
  ).events;
  const rows = [
    { name: 'before any event', base: battery, t: 5, want: { batteryPercent: 80, link: 'cellular-4g', silent: false } },
    { name: 'draining for 30 s at 30 %/min', base: battery, t: 40, want: { batteryPercent: 65, link: 'cellular-4g', silent: false } },
    { name: 'drain stopped after 60 s', base: battery, t: 90, want: { batteryPercent: 50, link: 'cellular-4g', silent: false } },
    { name: 'link switched', base: battery, t: 110, want: { batteryPercent: 50, link: 'lora', silent: false } },
    { name: 'silent', base: battery, t: 150, want: { batteryPercent: 50, link: 'lora', silent: true } },
    { name: 'back', base: battery, t: 200, want: { batteryPercent: 50, link: 'lora', silent: false } },
    { name: 'a drained mains node is unplugged from 100 %', base: mains, t: 40, want: { batteryPercent: 85, link: 'ethernet', silent: false } },
    { name: 'a mains node before its drain stays on mains', base: mains, t: 5, want: { batteryPercent: undefined, link: 'ethernet', silent: false } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const got = conditionsAt(row.base, drain, row.t);
      expect({ batteryPercent: got.power.batteryPercent, link: got.network.type, silent: got.silent }).toEqual(row.want);
    });
  }

  it('the level never goes below 0 or above 100', () => {
    const events = parseTimeline('events: [{at: 0, battery: {drainPercentPerMin: 600}}, {at: 60, battery: {drainPercentPerMin: -600}}]').events;
    expect(conditionsAt(battery, events, 30).power.batteryPercent).toBe(0);
    expect(conditionsAt(battery, events, 600).power.batteryPercent).toBe(100);
  });

  it('a set level wins over the drain so far', () => {
    const events = parseTimeline('events: [{at: 0, battery: {drainPercentPerMin: 60}}, {at: 30, battery: {percent: 15, charging: true}}]').events;
    const got = conditionsAt(battery, events, 60);
    expect(got.power).toEqual({ source: 'battery', batteryPercent: 0, charging: true });
    expect(conditionsAt(battery, events, 30).power.batteryPercent).toBe(15);
  });
});
