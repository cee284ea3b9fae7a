import { describe, expect, it } from 'vitest';
import { backoffMs, sleep } from './backoff.ts';

describe('backoffMs', () => {
  const opts = { initialMs: 100, maxMs: 1000 };
  const rows = [
    { attempt: 0, random: 0, want: 50 },
    { attempt: 0, random: 1, want: 100 },
    { attempt: 2, random: 0.5, want: 300 },
    { attempt: 10, random: 1, want: 1000 },
    { attempt: 1000, random: 0, want: 500 },
  ];
  for (const row of rows) it(`attempt ${row.attempt}, random ${row.random}`, () => expect(backoffMs(row.attempt, opts, () => row.random)).toBe(row.want));

  it('sleep ends at once when aborted', async () => {
    const abort = new AbortController();
    const slept = sleep(60_000, abort.signal);
    abort.abort();
    await expect(slept).resolves.toBeUndefined();
  });
});
