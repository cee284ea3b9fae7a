import { describe, expect, it } from 'vitest';
import { WorkQueue, type Outcome } from './queue.ts';
import { ExponentialBackoff, MaxOf, TokenBucket } from './rate-limiter.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await tick(2);
  }
}

describe('ExponentialBackoff', () => {
  it('doubles from the base per key and caps', () => {
    const b = new ExponentialBackoff(5, 1000);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(() => b.when('a'))).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000]);
    expect(b.when('b')).toBe(5);
    expect(b.failures('a')).toBe(9);
    b.forget('a');
    expect(b.when('a')).toBe(5);
  });

  it('stays finite after very many failures', () => {
    const b = new ExponentialBackoff(5, 1_000_000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.when('k');
    expect(last).toBe(1_000_000);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then spaces at qps', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.when('x'), bucket.when('x'), bucket.when('x')]).toEqual([0, 0, 0]);
    expect(bucket.when('x')).toBeCloseTo(100);
    expect(bucket.when('x')).toBeCloseTo(200);
    now = 1000;
    // 10 tokens refilled, capped at the burst of 3, minus the 2 reserved in debt.
    expect(bucket.when('x')).toBe(0);
  });

  it('MaxOf takes the larger delay', () => {
    let now = 0;
    const limiter = new MaxOf(new ExponentialBackoff(5, 1000), new TokenBucket(1, 1, () => now));
    expect(limiter.when('a')).toBe(5);
    expect(limiter.when('a')).toBeCloseTo(1000);
  });
});

describe('WorkQueue', () => {
  it('is busy while a key waits or runs, says which key has another run coming, and tells when it goes idle', async () => {
    let idle = 0;
    const q = new WorkQueue({ workers: 1, onIdle: () => idle++ });
    expect(q.busy).toBe(false);
    let release: () => void = () => {};
    const started: string[] = [];
    q.add('ns/a');
    expect(q.busy).toBe(true);
    expect(q.pending('ns/a')).toBe(true);
    q.start(async (key) => {
      started.push(key);
      await new Promise<void>((r) => (release = r));
      return {};
    });
    await until(() => started.length === 1);
    // Running, nothing more coming for it.
    expect(q.busy).toBe(true);
    expect(q.pending('ns/a')).toBe(false);
    // Changed while it runs: another reconcile of it is coming.
    q.add('ns/a');
    expect(q.pending('ns/a')).toBe(true);
    release();
    await until(() => started.length === 2);
    expect(idle).toBe(0);
    release();
    await until(() => idle === 1);
    expect(q.busy).toBe(false);
    expect(q.pending('ns/a')).toBe(false);
    await q.shutdown();
  });

  it('de-duplicates a key added while waiting', async () => {
    const q = new WorkQueue({ workers: 1 });
    const seen: string[] = [];
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.length).toBe(2);
    q.start(async (key) => {
      seen.push(key);
      return {};
    });
    await until(() => seen.length === 2);
    await tick(20);
    await q.shutdown();
    expect(seen).toEqual(['ns/a', 'ns/b']);
  });

  it('never runs one key on two workers, and reruns a key changed meanwhile', async () => {
    const q = new WorkQueue({ workers: 4 });
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    q.start(async () => {
      active++;
      runs++;
      maxActive = Math.max(maxActive, active);
      await tick(15);
      active--;
      return {};
    });
    q.add('ns/a');
    await until(() => runs === 1);
    // Changed three times while in progress: runs once more afterwards, not three times.
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/a');
    await until(() => runs === 2);
    await tick(40);
    await q.shutdown();
    expect(maxActive).toBe(1);
    expect(runs).toBe(2);
  });

  it('retries failures with growing backoff and forgets on success', async () => {
    const results: Outcome[] = [];
    const q = new WorkQueue({ workers: 1, rateLimiter: new ExponentialBackoff(5, 1000), onResult: (_k, o) => results.push(o) });
    const times: number[] = [];
    q.start(async () => {
      times.push(performance.now());
      if (times.length < 4) throw new Error('not yet');
      return {};
    });
    q.add('ns/a');
    await until(() => results.length === 4);
    await q.shutdown();
    expect(results).toEqual(['error', 'error', 'error', 'success']);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    // 5, 10, 20 ms: each at least the backoff (timers never fire early).
    expect(gaps[0]).toBeGreaterThanOrEqual(4);
    expect(gaps[1]).toBeGreaterThanOrEqual(9);
    expect(gaps[2]).toBeGreaterThanOrEqual(19);
    expect(q.failures('ns/a')).toBe(0);
  });

  it('requeues after the time a reconcile asks for', async () => {
    const q = new WorkQueue({ workers: 1 });
    let runs = 0;
    q.start(async () => (++runs === 1 ? { requeueAfterMs: 30 } : {}));
    const start = performance.now();
    q.add('ns/a');
    await until(() => runs === 2);
    await q.shutdown();
    expect(performance.now() - start).toBeGreaterThanOrEqual(29);
  });

  it('keeps the earlier of two delayed adds', async () => {
    const q = new WorkQueue({ workers: 1 });
    let runs = 0;
    q.start(async () => {
      runs++;
      return {};
    });
    q.addAfter('ns/a', 5000);
    q.addAfter('ns/a', 10);
    await until(() => runs === 1);
    await q.shutdown();
    expect(runs).toBe(1);
  });

  it('shutdown waits for the reconcile in progress and drops the rest', async () => {
    const q = new WorkQueue({ workers: 1 });
    let finished = 0;
    q.start(async () => {
      await tick(20);
      finished++;
      return {};
    });
    q.add('ns/a');
    await tick(2);
    q.add('ns/b');
    await q.shutdown();
    expect(finished).toBe(1);
    q.add('ns/c');
    expect(q.length).toBe(1);
  });
});
