import { describe, expect, it } from 'vitest';
import { KeyedWriteQueue } from './keyed-write-queue.ts';

/** A write whose completion the test controls. */
function controlled() {
  const calls: { key: string; value: number; finish: (err?: Error) => void }[] = [];
  let active = 0;
  let maxActive = 0;
  const write = (key: string, value: number) =>
    new Promise<string>((resolve, reject) => {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push({ key, value, finish: (err) => (active--, err ? reject(err) : resolve(`${key}=${value}`)) });
    });
  return { calls, write, maxActive: () => maxActive };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedWriteQueue', () => {
  it('keeps at most `concurrency` writes in flight and runs every key', async () => {
    const c = controlled();
    const q = new KeyedWriteQueue({ concurrency: 3, write: c.write });
    const results = Array.from({ length: 10 }, (_, i) => q.submit(`k${i}`, i));
    for (let done = 0; done < 10; done++) {
      await tick();
      c.calls.find((x, i) => i === done)!.finish();
    }
    expect(await Promise.all(results)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}=${i}`));
    expect(c.maxActive()).toBe(3);
    expect(q.size).toBe(0);
  });

  it('collapses waiting writes of a key into one with the latest value', async () => {
    const c = controlled();
    const q = new KeyedWriteQueue({ concurrency: 1, write: c.write });
    const first = q.submit('busy', 0);
    const a = q.submit('n', 1);
    const b = q.submit('n', 2);
    await tick();
    c.calls[0]!.finish();
    await tick();
    expect(c.calls.map((x) => [x.key, x.value])).toEqual([['busy', 0], ['n', 2]]);
    c.calls[1]!.finish();
    expect([await first, await a, await b]).toEqual(['busy=0', 'n=2', 'n=2']);
  });

  it('writes a value submitted while its key is being written in a follow-up, never at once', async () => {
    const c = controlled();
    const q = new KeyedWriteQueue({ concurrency: 4, write: c.write });
    const a = q.submit('n', 1);
    await tick();
    const b = q.submit('n', 2);
    await tick();
    expect(c.calls).toHaveLength(1);
    c.calls[0]!.finish();
    expect(await a).toBe('n=1');
    await tick();
    expect(c.calls.map((x) => x.value)).toEqual([1, 2]);
    c.calls[1]!.finish();
    expect(await b).toBe('n=2');
  });

  it('rejects the waiters of a failed write only, and keeps going', async () => {
    const c = controlled();
    const q = new KeyedWriteQueue({ concurrency: 1, write: c.write });
    const bad = q.submit('bad', 1);
    const good = q.submit('good', 2);
    await tick();
    c.calls[0]!.finish(new Error('HTTP 500'));
    await expect(bad).rejects.toThrow('HTTP 500');
    await tick();
    c.calls[1]!.finish();
    expect(await good).toBe('good=2');
    await q.drained();
  });

  it('refuses a concurrency that is not a whole number >= 1', () => {
    expect(() => new KeyedWriteQueue({ concurrency: 0, write: async () => 1 })).toThrow(/concurrency/);
  });
});
