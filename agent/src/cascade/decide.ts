// Whether one answered input goes up to the escalation tier: the rule says whether it is hard,
// the node's token buckets (escalations and input bytes, refilled at the deployment's rates,
// scaled down on a metered link, empty offline) say whether it may. Pure: the time is passed in
// and the new bucket state is returned.
import type { EscalationBudget, EscalationRule } from '@edgeplane/api';
import { BudgetError } from './errors.ts';
import type { Score } from './score.ts';

/** The node's uplink as the escalation budget sees it. */
export type LinkCost = 'unmetered' | 'metered' | 'offline';

/** Bursts of this many seconds of the rate are allowed. */
export const BURST_SECONDS = 1;

export type BudgetLimits = Pick<EscalationBudget, 'requestsPerSecond' | 'bytesPerSecond' | 'meteredFactor'>;

export interface BucketState {
  /** Escalations that may go now. */
  requests: number;
  /** Input bytes that may go now; negative after an input larger than a burst, until repaid. */
  bytes: number;
  /** When the state was last brought up to date, milliseconds on the caller's clock. */
  atMs: number;
}

export type DecisionReason = 'Confident' | 'Escalated' | 'Offline' | 'BudgetExhausted';

export interface Decision {
  /** The rule calls this input hard. */
  hard: boolean;
  /** Send it up: hard, and the budget allows. */
  escalate: boolean;
  reason: DecisionReason;
  bucket: BucketState;
}

/** The rates in force on this link, per second. */
export function ratesOn(limits: BudgetLimits, link: LinkCost): { requests: number; bytes: number } {
  const factor = link === 'offline' ? 0 : link === 'metered' ? limits.meteredFactor : 1;
  return { requests: limits.requestsPerSecond * factor, bytes: limits.bytesPerSecond * factor };
}

function checkLimits(limits: BudgetLimits): void {
  const fields: Array<[keyof BudgetLimits, number]> = [
    ['requestsPerSecond', limits.requestsPerSecond],
    ['bytesPerSecond', limits.bytesPerSecond],
    ['meteredFactor', limits.meteredFactor],
  ];
  for (const [field, value] of fields) {
    if (!Number.isFinite(value) || value < 0) throw new BudgetError(`budget.${field}`, `must be a finite number >= 0, got ${value}`);
  }
  if (limits.meteredFactor > 1) throw new BudgetError('budget.meteredFactor', `must be at most 1, got ${limits.meteredFactor}`);
}

/** Most tokens a bucket holds: a burst of the rate, and at least one escalation when the rate is not zero (0.5/s still lets one go every 2 s). */
function capacity(limits: BudgetLimits, link: LinkCost): { requests: number; bytes: number } {
  const r = ratesOn(limits, link);
  return { requests: r.requests > 0 ? Math.max(1, r.requests * BURST_SECONDS) : 0, bytes: r.bytes * BURST_SECONDS };
}

/** A full bucket for this link at `nowMs`. */
export function fullBucket(limits: BudgetLimits, link: LinkCost, nowMs: number): BucketState {
  checkLimits(limits);
  return { ...capacity(limits, link), atMs: nowMs };
}

/** The bucket refilled up to `nowMs` at this link's rates and capped at its burst; a clock that steps back adds nothing. */
export function refill(bucket: BucketState, limits: BudgetLimits, link: LinkCost, nowMs: number): BucketState {
  checkLimits(limits);
  const r = ratesOn(limits, link);
  const cap = capacity(limits, link);
  const elapsedS = Math.max(0, nowMs - bucket.atMs) / 1000;
  return {
    requests: Math.min(cap.requests, bucket.requests + r.requests * elapsedS),
    bytes: Math.min(cap.bytes, bucket.bytes + r.bytes * elapsedS),
    atMs: Math.max(bucket.atMs, nowMs),
  };
}

/** True when the score makes the input hard under the rule. */
export function isHard(rule: EscalationRule, score: Score): boolean {
  switch (rule.kind) {
    case 'confidenceBelow':
      return score.confidence < rule.threshold;
    case 'marginBelow':
      return score.margin < rule.threshold;
    case 'entropyAbove':
      return score.entropy > rule.threshold;
  }
}

export interface DecideInput {
  /** Bytes of the input as it would be sent upward. */
  bytes: number;
  nowMs: number;
  link: LinkCost;
  limits: BudgetLimits;
  bucket: BucketState;
}

/**
 * The decision for one answered input. An input larger than a burst of bytes still goes once the
 * byte bucket is full, and leaves it in debt, so the long-run byte rate holds for any input size.
 */
export function decide(rule: EscalationRule, score: Score, input: DecideInput): Decision {
  if (!Number.isFinite(input.bytes) || input.bytes < 0) throw new BudgetError('bytes', `must be a finite number >= 0, got ${input.bytes}`);
  const bucket = refill(input.bucket, input.limits, input.link, input.nowMs);
  if (!isHard(rule, score)) return { hard: false, escalate: false, reason: 'Confident', bucket };
  if (input.link === 'offline') return { hard: true, escalate: false, reason: 'Offline', bucket };
  const burstBytes = capacity(input.limits, input.link).bytes;
  if (bucket.requests < 1 || burstBytes <= 0 || bucket.bytes < Math.min(input.bytes, burstBytes)) {
    return { hard: true, escalate: false, reason: 'BudgetExhausted', bucket };
  }
  return {
    hard: true,
    escalate: true,
    reason: 'Escalated',
    bucket: { requests: bucket.requests - 1, bytes: bucket.bytes - input.bytes, atMs: bucket.atMs },
  };
}
