import { describe, expect, it } from 'vitest';
import type { EdgeNode } from '@edgeplane/api';
import { isDeparted, lastAliveMs } from './node-gc.ts';

const T = Date.parse('2026-01-10T00:00:00Z');
const DAY = 86_400_000;
const node = (created?: string, lastHeartbeat?: string) =>
  ({ metadata: { name: 'n', ...(created ? { creationTimestamp: created } : {}) }, status: lastHeartbeat ? { lastHeartbeatTime: lastHeartbeat } : undefined }) as unknown as Pick<EdgeNode, 'metadata' | 'status'>;

describe('departed nodes', () => {
  const rows: Array<{ name: string; node: ReturnType<typeof node>; redisMs: number | null; want: boolean }> = [
    { name: 'heard in Redis within the window', node: node('2026-01-01T00:00:00Z'), redisMs: T - DAY, want: false },
    { name: 'silent in Redis and status past the window', node: node('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'), redisMs: T - 8 * DAY, want: true },
    // Redis lost its data: the EdgeNode still says the node was heard lately.
    { name: 'absent from Redis, recent in status', node: node('2026-01-01T00:00:00Z', '2026-01-09T23:59:00Z'), redisMs: null, want: false },
    { name: 'absent from Redis, old status', node: node('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'), redisMs: null, want: true },
    { name: 'enrolled lately, never said hello', node: node('2026-01-09T00:00:00Z'), redisMs: null, want: false },
    { name: 'no record of any time is never collected', node: node(), redisMs: null, want: false },
  ];
  for (const row of rows) {
    it(row.name, () => expect(isDeparted(row.node, row.redisMs, T, 7 * DAY)).toBe(row.want));
  }

  it('takes the newest record', () => {
    expect(lastAliveMs(node('2026-01-01T00:00:00Z', 'not a time'), T - 5)).toBe(T - 5);
    expect(lastAliveMs(node('2026-01-09T00:00:00Z'), T - 9 * DAY)).toBe(Date.parse('2026-01-09T00:00:00Z'));
  });
});
