import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { WorkloadReport } from '@edgeplane/api';
import { DeliveryCheck, disagrees } from './delivery-check.ts';
import type { AssignmentPublisher } from './assignment-publisher.ts';
import type { NodeTelemetry } from './telemetry.ts';

const report = (key: string): WorkloadReport => ({ key, variant: 'v', accelerator: 'cpu0', phase: 'Ready' });

describe('disagrees', () => {
  const rows: { name: string; assigned: string[]; reported: WorkloadReport[] | undefined; want: boolean }[] = [
    { name: 'same keys', assigned: ['a/x', 'a/y'], reported: [report('a/y'), report('a/x')], want: false },
    { name: 'nothing assigned, nothing reported', assigned: [], reported: undefined, want: false },
    { name: 'one missing', assigned: ['a/x', 'a/y'], reported: [report('a/x')], want: true },
    { name: 'no report known (telemetry lost): not a disagreement', assigned: ['a/x'], reported: undefined, want: false },
    { name: 'an empty report', assigned: ['a/x'], reported: [], want: true },
    { name: 'one too many', assigned: ['a/x'], reported: [report('a/x'), report('a/gone')], want: true },
    { name: 'another one', assigned: ['a/x'], reported: [report('a/z')], want: true },
  ];
  for (const r of rows) it(r.name, () => expect(disagrees(r.assigned, r.reported)).toBe(r.want));
});

describe('DeliveryCheck', () => {
  const INTERVAL = 1000;
  function setup() {
    let now = 0;
    const writes: string[] = [];
    const assigned = new Map<string, string[]>([
      ['stuck', ['a/x']],
      ['fine', ['a/x']],
      ['silent', ['a/x']],
    ]);
    const telemetry = new Map<string, NodeTelemetry>();
    const state = { stuck: [] as WorkloadReport[] };
    const publisher = {
      knownNodes: () => [...assigned.keys()],
      assignedKeys: (n: string) => assigned.get(n),
      publish: async (n: string, _d: unknown, o?: { force?: boolean }) => {
        if (o?.force) writes.push(n);
        return 'updated' as const;
      },
    } as unknown as AssignmentPublisher;
    const check = new DeliveryCheck({
      publisher,
      telemetry: { readMany: async (nodes) => new Map(nodes.flatMap((n) => (telemetry.has(n) ? [[n, telemetry.get(n)!] as const] : []))) },
      desired: () => [],
      log: pino({ level: 'silent' }),
      heartbeatIntervalMs: INTERVAL,
      graceHeartbeats: 3,
      maxBackoffMs: 20_000,
      now: () => now,
    });
    const beat = () => {
      telemetry.set('stuck', { seq: 1, lastSeenMs: now, workloads: state.stuck });
      telemetry.set('fine', { seq: 1, lastSeenMs: now, workloads: [report('a/x')] });
      telemetry.set('silent', { seq: 1, lastSeenMs: 0, workloads: [] });
    };
    const tick = async (ms: number) => {
      now += ms;
      beat();
      await check.check();
    };
    return { writes, tick, state, assigned };
  }

  it('re-publishes only a heartbeating node that disagrees past the grace, then backs off', async () => {
    const { writes, tick } = setup();
    await tick(0);
    await tick(INTERVAL);
    await tick(INTERVAL);
    expect(writes).toEqual([]);
    await tick(INTERVAL);
    expect(writes).toEqual(['stuck']);
    // Next one after twice the grace, not on every check.
    for (let i = 0; i < 5; i++) await tick(INTERVAL);
    expect(writes).toEqual(['stuck']);
    await tick(INTERVAL);
    expect(writes).toEqual(['stuck', 'stuck']);
  });

  it('gives each new assignment a fresh grace: an agent behind a fast churn is not stuck', async () => {
    const { writes, tick, assigned } = setup();
    for (let i = 0; i < 10; i++) {
      assigned.set('stuck', [`a/v${i}`]);
      await tick(INTERVAL);
    }
    expect(writes).toEqual([]);
  });

  it('forgets a disagreement once the agent reports its assignment', async () => {
    const { writes, tick, state } = setup();
    await tick(0);
    await tick(2 * INTERVAL);
    state.stuck = [report('a/x')];
    await tick(INTERVAL);
    // A new disagreement waits its own grace.
    state.stuck = [];
    await tick(INTERVAL);
    await tick(2 * INTERVAL);
    expect(writes).toEqual([]);
    await tick(INTERVAL);
    expect(writes).toEqual(['stuck']);
  });
});
