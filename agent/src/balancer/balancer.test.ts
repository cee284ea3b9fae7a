import { describe, expect, it } from 'vitest';
import { isDeadlineExceededError, isModelNotReadyError, isOverloadedError } from '../workloads/errors.ts';
import { Balancer, type Executor, type Policy } from './balancer.ts';
import { SimClock } from './clock.ts';

/** An executor whose batch of b rows takes `ms(b)` of simulated time; records what it ran. */
function simExecutor(clock: SimClock, id: string, ms: (rows: number) => number, ran: number[][] = []): Executor<number, number> {
  return {
    id,
    acceleratorId: id,
    priorMs: ms(1),
    async run(items) {
      ran.push([...items]);
      await clock.sleep(ms(items.length));
      return items.map((x) => x * 10);
    },
  };
}

/**
 * Closed loop: `clients` callers each submit again as soon as their request completes. Every
 * request must succeed with its own answer: refusals and wrong answers fail the calling test.
 */
async function closedLoop(clock: SimClock, balancer: Balancer<number, number>, clients: number, total: number) {
  let sent = 0;
  let done = 0;
  const refused: string[] = [];
  const wrong: { request: number; got: number }[] = [];
  const client = async (): Promise<void> => {
    while (sent < total) {
      const n = sent++;
      // Only the submit is guarded: an assertion here would be swallowed with it.
      const got = await balancer.submit(n).catch((err: unknown) => {
        refused.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
        return null;
      });
      if (got !== null && got !== n * 10) wrong.push({ request: n, got });
      done++;
    }
  };
  const start = clock.now();
  const all = Promise.all(Array.from({ length: clients }, client));
  await clock.run(() => done >= total);
  await all;
  expect(refused).toEqual([]);
  expect(wrong).toEqual([]);
  return { rps: (done * 1000) / (clock.now() - start) };
}

function heterogeneous(clock: SimClock, policy: Policy, maxBatch = 1, delay = 0) {
  return new Balancer<number, number>({
    name: 'test/model',
    executors: [3, 5, 20].map((ms) => simExecutor(clock, `x${ms}`, (b) => ms * b)),
    maxBatch,
    maxQueueDelayMs: delay,
    maxQueue: 256,
    policy,
    clock,
  });
}

describe('Balancer', () => {
  it('reaches near the sum of capacities of executors of 3, 5 and 20 ms', async () => {
    const clock = new SimClock();
    const { rps } = await closedLoop(clock, heterogeneous(clock, 'least-completion'), 24, 3000);
    const sum = 1000 / 3 + 1000 / 5 + 1000 / 20;
    expect(rps / sum).toBeGreaterThan(0.85);
    expect(rps / sum).toBeLessThanOrEqual(1.001);
  });

  it('beats round robin, which the slowest executor holds back', async () => {
    const clock = new SimClock();
    const balanced = await closedLoop(clock, heterogeneous(clock, 'least-completion'), 24, 1500);
    const clock2 = new SimClock();
    const rr = await closedLoop(clock2, heterogeneous(clock2, 'round-robin'), 24, 1500);
    expect(balanced.rps / rr.rps).toBeGreaterThan(2);
  });

  it('batches up to maxBatch when a batch costs less than its rows one by one', async () => {
    const perBatch = (b: number) => 4 + b;
    const run = async (maxBatch: number) => {
      const clock = new SimClock();
      const ran: number[][] = [];
      const b = new Balancer<number, number>({
        name: 't',
        executors: [simExecutor(clock, 'gpu', perBatch, ran)],
        maxBatch,
        maxQueueDelayMs: 2,
        maxQueue: 64,
        clock,
      });
      const r = await closedLoop(clock, b, 16, 800);
      return { ...r, largest: Math.max(...ran.map((x) => x.length)) };
    };
    const batched = await run(8);
    const single = await run(1);
    expect(batched.largest).toBe(8);
    expect(single.largest).toBe(1);
    expect(batched.rps / single.rps).toBeGreaterThan(2);
  });

  it('stops batching where a batch costs more per row than single runs', async () => {
    // Superlinear: a batch of b takes 2 ms x b x (1 + 0.25 (b - 1)).
    const cost = (b: number) => 2 * b * (1 + 0.25 * (b - 1));
    const run = async (maxBatch: number) => {
      const clock = new SimClock();
      const ran: number[][] = [];
      const b = new Balancer<number, number>({ name: 't', executors: [simExecutor(clock, 'cpu', cost, ran)], maxBatch, maxQueueDelayMs: 2, maxQueue: 64, clock });
      const r = await closedLoop(clock, b, 16, 1000);
      return { ...r, singles: ran.filter((x) => x.length === 1).length / ran.length };
    };
    const batched = await run(8);
    const single = await run(1);
    expect(batched.singles).toBeGreaterThan(0.9);
    expect(batched.rps / single.rps).toBeGreaterThan(0.9);
  });

  it('probes smaller batches when a pessimistic prior made large ones look good', async () => {
    // The prior claims a single run takes 100 ms; in truth batches cost more per row than singles.
    const clock = new SimClock();
    const ran: number[][] = [];
    const exec = { ...simExecutor(clock, 'cpu', (b) => 2 * b * (1 + 0.25 * (b - 1)), ran), priorMs: 100 };
    const b = new Balancer<number, number>({ name: 't', executors: [exec], maxBatch: 8, maxQueueDelayMs: 1, maxQueue: 64, clock });
    await closedLoop(clock, b, 16, 4000);
    expect(ran[0]?.length).toBe(8);
    const late = ran.slice(-100);
    expect(late.filter((x) => x.length === 1).length / late.length).toBeGreaterThan(0.9);
  });

  it('reads an unmeasured executor\'s prior on the scale the measured ones showed', async () => {
    // Both priors a tenth of the truth (a warm-up on a tiny synthetic input): once the fast
    // executor has run one, the slow one's 2 ms prior reads as 20, so requests one at a time
    // stay on the 10 ms executor instead of trying the 20 ms one on its prior.
    const clock = new SimClock();
    const fast: number[][] = [];
    const slow: number[][] = [];
    const b = new Balancer<number, number>({
      name: 't',
      executors: [
        { ...simExecutor(clock, 'fast', (n) => 10 * n, fast), priorMs: 1 },
        { ...simExecutor(clock, 'slow', (n) => 20 * n, slow), priorMs: 2 },
      ],
      maxBatch: 1,
      maxQueueDelayMs: 0,
      maxQueue: 8,
      clock,
    });
    await closedLoop(clock, b, 1, 5);
    expect(fast.flat()).toEqual([0, 1, 2, 3, 4]);
    expect(slow).toEqual([]);
  });

  it('waits at most maxQueueDelayMs for a batch to fill', async () => {
    const clock = new SimClock();
    const ran: number[][] = [];
    const started: number[] = [];
    const exec = simExecutor(clock, 'e', () => 1, ran);
    const b = new Balancer<number, number>({
      name: 't',
      executors: [{ ...exec, run: (items) => (started.push(clock.now()), exec.run(items)) }],
      maxBatch: 4,
      maxQueueDelayMs: 5,
      maxQueue: 16,
      clock,
    });
    const first = [b.submit(1), b.submit(2)];
    await clock.run(() => false);
    expect(started).toEqual([5]);
    expect(await Promise.all(first)).toEqual([10, 20]);
    const full = [b.submit(3), b.submit(4), b.submit(5), b.submit(6)];
    await clock.run(() => false);
    expect(started[1]).toBe(6);
    expect(await Promise.all(full)).toEqual([30, 40, 50, 60]);
    expect(ran).toEqual([
      [1, 2],
      [3, 4, 5, 6],
    ]);
  });

  it('dispatches when the batch timer fires even if float rounding leaves the wait a hair short', async () => {
    // At t = 0.4 with a 0.3 ms delay, (0.4 + 0.3) - 0.4 is 0.29999999999999993 in doubles.
    const clock = new SimClock();
    const b = new Balancer<number, number>({ name: 't', executors: [simExecutor(clock, 'e', () => 1)], maxBatch: 4, maxQueueDelayMs: 0.3, maxQueue: 8, clock });
    const start = clock.sleep(0.4).then(() => b.submit(7));
    await clock.run(() => false, 100);
    expect(await (await start)).toBe(70);
  });

  it('refuses with OverloadedError once the queue is full instead of growing', async () => {
    const clock = new SimClock();
    const b = new Balancer<number, number>({
      name: 't',
      executors: [simExecutor(clock, 'e', () => 10)],
      maxBatch: 100,
      maxQueueDelayMs: 50,
      maxQueue: 4,
      clock,
    });
    const accepted = [1, 2, 3, 4].map((n) => b.submit(n));
    const refused = await b.submit(5).catch((err: unknown) => err);
    expect(isOverloadedError(refused)).toBe(true);
    expect(b.queued).toBe(4);
    await clock.run(() => false);
    expect(await Promise.all(accepted)).toEqual([10, 20, 30, 40]);
  });

  it('fails an expired request with DeadlineExceeded without running it', async () => {
    const clock = new SimClock();
    const ran: number[][] = [];
    const b = new Balancer<number, number>({
      name: 't',
      executors: [simExecutor(clock, 'e', () => 10, ran)],
      maxBatch: 1,
      maxQueueDelayMs: 0,
      maxQueue: 8,
      clock,
    });
    const first = b.submit(1);
    const late = b.submit(2, { timeoutMs: 5 }).catch((err: unknown) => err);
    const inTime = b.submit(3, { timeoutMs: 50 });
    await clock.run(() => false);
    expect(await first).toBe(10);
    expect(isDeadlineExceededError(await late)).toBe(true);
    expect(await inTime).toBe(30);
    expect(ran).toEqual([[1], [3]]);
  });

  it('drains: finishes what is queued and running, refuses what comes after', async () => {
    const clock = new SimClock();
    const b = new Balancer<number, number>({
      name: 't',
      executors: [simExecutor(clock, 'e', () => 10)],
      maxBatch: 1,
      maxQueueDelayMs: 0,
      maxQueue: 8,
      clock,
    });
    const inflight = [b.submit(1), b.submit(2)];
    let drained = false;
    const drain = b.drain().then(() => (drained = true));
    const after = await b.submit(3).catch((err: unknown) => err);
    expect(isModelNotReadyError(after)).toBe(true);
    await clock.run(() => drained);
    await drain;
    expect(await Promise.all(inflight)).toEqual([10, 20]);
    expect(clock.now()).toBe(20);
  });

  it('fails every request of a batch whose executor throws, and keeps serving', async () => {
    const clock = new SimClock();
    let calls = 0;
    const b = new Balancer<number, number>({
      name: 't',
      executors: [
        {
          id: 'e',
          acceleratorId: 'cpu0',
          priorMs: 1,
          async run(items) {
            await clock.sleep(1);
            if (calls++ === 0) throw new Error('boom');
            return items;
          },
        },
      ],
      maxBatch: 2,
      maxQueueDelayMs: 1,
      maxQueue: 8,
      clock,
    });
    const failed = [b.submit(1), b.submit(2)].map((p) => p.catch((err: unknown) => (err as Error).message));
    await clock.run(() => false);
    expect(await Promise.all(failed)).toEqual(['boom', 'boom']);
    const ok = b.submit(3);
    await clock.run(() => false);
    expect(await ok).toBe(3);
  });

  it('reports busy time, queue and latency percentiles', async () => {
    const clock = new SimClock();
    const b = heterogeneous(clock, 'least-completion');
    await closedLoop(clock, b, 4, 200);
    const load = b.takeLoad();
    expect(load.map((l) => l.executorId)).toEqual(['x3', 'x5', 'x20']);
    expect(load[0]!.busyMs / load[0]!.intervalMs).toBeGreaterThan(0.5);
    const lat = b.latency();
    expect(lat?.count).toBe(200);
    expect(lat!.p99Ms).toBeGreaterThanOrEqual(lat!.p50Ms);
    expect(lat!.p50Ms).toBeGreaterThanOrEqual(3);
  });
});
