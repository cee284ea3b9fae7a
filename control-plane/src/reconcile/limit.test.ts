import { describe, expect, it } from 'vitest';
import { forEachLimit } from './limit.ts';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('forEachLimit', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachLimit([...Array(50).keys()], 7, async (i) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      seen.push(i);
      running--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    expect(peak).toBe(7);
  });

  it('finishes the rest, then throws the first error', async () => {
    const done: number[] = [];
    const err = await forEachLimit([1, 2, 3, 4], 2, async (i) => {
      await tick();
      if (i === 2) throw new Error('two failed');
      done.push(i);
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('two failed');
    expect(done.sort()).toEqual([1, 3, 4]);
  });

  it('does nothing for no items', async () => {
    await expect(forEachLimit([], 4, async () => {})).resolves.toBeUndefined();
  });
});
