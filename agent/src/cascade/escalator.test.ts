import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Escalation, WorkloadAssignment } from '@edgeplane/api';
import type { WireTensor } from '../runtime/tensors.ts';
import { upwardTiming, type UpwardTiming } from './deadline.ts';
import { Escalator, UpwardError, type DeploymentRef, type EdgeModel, type EscalatorOptions, type Upward, type UpwardReply } from './escalator.ts';
import type { LinkCost } from './decide.ts';

const log = pino({ level: 'silent' });
const probs = (p: number[]): WireTensor => ({ name: 'softmax', datatype: 'FP32', shape: [1, p.length], data: new Uint8Array(Float32Array.from(p).buffer) });
/** An input whose first value is the edge model's top probability (class 0). */
const input = (top: number): WireTensor => ({ name: 'x', datatype: 'FP32', shape: [1, 4], data: new Uint8Array(Float32Array.from([top, 0, 0, 0]).buffer) });
const EASY = input(0.99);
const HARD = input(0.6);
const BIG_ANSWER = [probs([0.1, 0.9])];

const escalation = (over: Partial<Escalation> = {}): Escalation => ({
  deployment: 'big',
  rule: { confidenceBelow: 0.8 },
  budget: { requestsPerSecond: 100, bytesPerSecond: 1 << 20, meteredFactor: 0.5 },
  waitForAnswer: true,
  ...over,
});

function edgeModel(esc: Escalation | undefined, task = 'text-direction-classification'): EdgeModel & { calls: number } {
  const assignment = { key: 'ns/small', namespace: 'ns', deployment: 'small', model: 'm', task, variant: { name: 'int8' }, accelerator: 'cpu0', maxBatch: 1, maxQueueDelayMs: 0, latencySloMs: 50, ...(esc ? { escalation: esc } : {}) } as WorkloadAssignment;
  return {
    assignment,
    calls: 0,
    async infer(tensors) {
      this.calls++;
      const top = new Float32Array(tensors[0]!.data.slice().buffer)[0]!;
      return [probs([top, 1 - top])];
    },
  };
}

interface Sent {
  to: DeploymentRef;
  timing: UpwardTiming;
  bytes: number;
}

/** An escalation tier that answers, fails, or waits out the request, as told. */
function tier(behaviour: 'answer' | 'unavailable' | 'silent' | 'hang'): Upward & { sent: Sent[]; release(): void } {
  const sent: Sent[] = [];
  let release = () => undefined as void;
  const hung = new Promise<void>((r) => (release = r));
  return {
    sent,
    release: () => release(),
    async request(to, inputs, timing): Promise<UpwardReply> {
      sent.push({ to, timing, bytes: inputs.reduce((n, t) => n + t.data.byteLength, 0) });
      if (behaviour === 'answer') return { outputs: BIG_ANSWER, node: 'big-node', variant: 'fp32' };
      if (behaviour === 'unavailable') throw new UpwardError('unavailable', 'no responders');
      if (behaviour === 'hang') {
        await hung;
        return { outputs: BIG_ANSWER };
      }
      await new Promise((r) => setTimeout(r, timing.waitMs));
      throw new UpwardError('timeout', 'no reply');
    },
  };
}

function escalator(upward: Upward | null, over: Partial<EscalatorOptions> = {}): Escalator {
  return new Escalator({ key: 'ns/small', upward: () => upward, link: () => 'unmetered', log, ...over });
}

describe('Escalator', () => {
  it('an easy input gets the edge answer marked edge/none; nothing goes upward', async () => {
    const up = tier('answer');
    const e = escalator(up);
    const a = await e.answer(edgeModel(escalation()), [EASY]);
    expect(a.escalation).toEqual({ tier: 'edge', outcome: 'none' });
    expect(up.sent).toHaveLength(0);
    expect(e.counters()).toMatchObject({ requests: 1, hard: 0, escalated: 0 });
  });

  it("a hard input gets the escalation tier's answer with its node, and is counted with its bytes and the changed answer", async () => {
    const up = tier('answer');
    const e = escalator(up);
    const a = await e.answer(edgeModel(escalation()), [HARD], { timeoutMs: 1000 });
    expect(a.outputs).toBe(BIG_ANSWER);
    expect(a.escalation).toEqual({ tier: 'escalated', outcome: 'answered', node: 'big-node', variant: 'fp32' });
    expect(up.sent).toHaveLength(1);
    expect(up.sent[0]!.to).toEqual({ namespace: 'ns', deployment: 'big' });
    // The trip fits in what is left of the deadline: less than 1000 ms, a margin less for the tier.
    expect(up.sent[0]!.timing.waitMs).toBeLessThanOrEqual(upwardTiming(1000)!.waitMs);
    expect(up.sent[0]!.timing.deadlineMs).toBeLessThan(up.sent[0]!.timing.waitMs);
    expect(e.counters()).toEqual({ requests: 1, hard: 1, escalated: 1, answered: 1, changed: 1, failed: 0, budgetDenied: 0, bytesUp: 16 });
    expect(e.outcomes().answered).toBe(1);
  });

  it('an escalation tier that is not there returns the edge answer marked unavailable', async () => {
    const model = edgeModel(escalation());
    const e = escalator(tier('unavailable'));
    const a = await e.answer(model, [HARD], { timeoutMs: 1000 });
    expect(a.escalation).toEqual({ tier: 'edge', outcome: 'unavailable' });
    expect(Array.from(new Float32Array(a.outputs[0]!.data.slice().buffer))[0]).toBeCloseTo(0.6, 6);
    expect(e.counters()).toMatchObject({ hard: 1, escalated: 1, failed: 1, answered: 0 });
  });

  it('a tier too slow returns the edge answer marked timeout, within the request deadline', async () => {
    const e = escalator(tier('silent'));
    const started = performance.now();
    const a = await e.answer(edgeModel(escalation()), [HARD], { timeoutMs: 150 });
    const took = performance.now() - started;
    expect(a.escalation).toEqual({ tier: 'edge', outcome: 'timeout' });
    expect(took).toBeLessThan(150);
    expect(e.counters().failed).toBe(1);
  });

  it('too little of the deadline left: nothing is sent, timeout', async () => {
    const up = tier('answer');
    const a = await escalator(up).answer(edgeModel(escalation()), [HARD], { timeoutMs: 12 });
    expect(a.escalation?.outcome).toBe('timeout');
    expect(up.sent).toHaveLength(0);
  });

  it('without the escalate grant nothing is sent (unavailable) and the grant is asked for once per retry interval', async () => {
    const up = tier('answer');
    const asked: DeploymentRef[] = [];
    let granted = false;
    const e = escalator(up, { grant: { may: () => granted, ask: async (d) => (asked.push(d), false) }, grantRetryMs: 60_000 });
    const model = edgeModel(escalation());
    expect((await e.answer(model, [HARD])).escalation?.outcome).toBe('unavailable');
    expect((await e.answer(model, [HARD])).escalation?.outcome).toBe('unavailable');
    expect(up.sent).toHaveLength(0);
    expect(asked).toEqual([{ namespace: 'ns', deployment: 'big' }]);
    granted = true;
    expect((await e.answer(model, [HARD])).escalation?.outcome).toBe('answered');
  });

  it.each<[LinkCost, number, string]>([
    ['offline', 0.5, 'budget'],
    ['metered', 0, 'budget'],
    ['metered', 0.5, 'answered'],
  ])('on a %s link with metered factor %s a hard input is %s', async (link, meteredFactor, want) => {
    const e = escalator(tier('answer'), { link: () => link });
    const a = await e.answer(edgeModel(escalation({ budget: { requestsPerSecond: 10, bytesPerSecond: 1 << 20, meteredFactor } })), [HARD]);
    expect(a.escalation?.outcome).toBe(want);
    if (want === 'budget') expect(e.counters()).toMatchObject({ hard: 1, budgetDenied: 1, escalated: 0 });
  });

  it('the rate budget keeps the second hard input of the same instant home', async () => {
    const e = escalator(tier('answer'), { now: () => 1000 });
    const model = edgeModel(escalation({ budget: { requestsPerSecond: 1, bytesPerSecond: 1 << 20, meteredFactor: 1 } }));
    expect((await e.answer(model, [HARD])).escalation?.outcome).toBe('answered');
    expect((await e.answer(model, [HARD])).escalation?.outcome).toBe('budget');
  });

  it('not waiting: the edge answer returns at once (sent), in flight bounded, the rest kept home', async () => {
    const up = tier('hang');
    const e = escalator(up, { maxInFlight: 2 });
    const model = edgeModel(escalation({ waitForAnswer: false }));
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await e.answer(model, [HARD], { timeoutMs: 50 })).escalation);
    expect(outcomes).toEqual([
      { tier: 'edge', outcome: 'sent' },
      { tier: 'edge', outcome: 'sent' },
      { tier: 'edge', outcome: 'budget' },
    ]);
    expect(e.inFlight).toBe(2);
    // The background requests are not held to the caller's 50 ms.
    expect(up.sent[0]!.timing.waitMs).toBeGreaterThan(1000);
    up.release();
    await e.settled();
    expect(e.inFlight).toBe(0);
    expect(e.counters()).toMatchObject({ escalated: 2, answered: 2, budgetDenied: 1 });
  });

  it('a task without a scorer is unsupported; a request escalated by another tier is answered here; no escalation, no mark', async () => {
    const up = tier('answer');
    expect((await escalator(up).answer(edgeModel(escalation(), 'object-detection'), [HARD])).escalation).toEqual({ tier: 'edge', outcome: 'unsupported' });
    const e = escalator(up);
    expect((await e.answer(edgeModel(escalation()), [HARD], { escalated: true })).escalation).toEqual({ tier: 'edge', outcome: 'none' });
    expect(e.counters().requests).toBe(0);
    expect((await escalator(up).answer(edgeModel(undefined), [HARD])).escalation).toBeUndefined();
    expect(up.sent).toHaveLength(0);
  });

  it('no connection (offline): unavailable without sending', async () => {
    const a = await escalator(null).answer(edgeModel(escalation()), [HARD]);
    expect(a.escalation?.outcome).toBe('unavailable');
  });
});
