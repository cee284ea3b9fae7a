// spec.escalation of an EdgeModelDeployment: a second, bigger deployment that answers the inputs
// the edge model is unsure of (joint inference across tiers), the rule that calls an input hard,
// and how much a node may send upward.
import { z } from 'zod';
import { dnsSubdomain } from './meta.ts';

export const ESCALATION_RULE_KINDS = ['confidenceBelow', 'marginBelow', 'entropyAbove'] as const;
export type EscalationRuleKind = (typeof ESCALATION_RULE_KINDS)[number];

const THRESHOLD_MESSAGE = 'threshold must lie strictly between 0 and 1: at 0 or 1 either nothing or everything escalates';
const ONE_RULE_MESSAGE = 'rule must set exactly one of confidenceBelow, marginBelow or entropyAbove';

// A refinement for zod and a CEL rule for the API server, so both answer with the same sentence.
const threshold = (what: string) =>
  z
    .number()
    .refine((x) => x > 0 && x < 1, THRESHOLD_MESSAGE)
    .meta({ 'x-kubernetes-validations': [{ rule: 'self > 0.0 && self < 1.0', message: THRESHOLD_MESSAGE }] })
    .optional()
    .describe(what);

export const EscalationRuleSpec = z
  .object({
    confidenceBelow: threshold(
      'Escalate when the confidence is below this, in (0, 1): the top class probability for a softmax classifier, the mean per-character probability for CTC text recognition.',
    ),
    marginBelow: threshold(
      'Escalate when the margin is below this, in (0, 1): top minus second class probability for a classifier; for CTC text recognition the smallest such margin over all time steps, blank steps included.',
    ),
    entropyAbove: threshold(
      'Escalate when the entropy, normalised by the log of the class count so it lies in [0, 1], is above this: of the softmax for a classifier, the largest over time steps for CTC text recognition.',
    ),
  })
  .refine((r) => ESCALATION_RULE_KINDS.filter((k) => r[k] !== undefined).length === 1, ONE_RULE_MESSAGE)
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.confidenceBelow), has(self.marginBelow), has(self.entropyAbove)].filter(x, x).size() == 1',
        message: ONE_RULE_MESSAGE,
      },
    ],
  });
export type EscalationRuleSpec = z.infer<typeof EscalationRuleSpec>;

/** The rule as the agent evaluates it: one kind and its threshold. */
export interface EscalationRule {
  kind: EscalationRuleKind;
  threshold: number;
}

/** The one rule a valid spec sets. */
export function escalationRuleOf(spec: EscalationRuleSpec): EscalationRule {
  for (const kind of ESCALATION_RULE_KINDS) {
    const value = spec[kind];
    if (value !== undefined) return { kind, threshold: value };
  }
  throw new Error(ONE_RULE_MESSAGE);
}

export const EscalationBudget = z.object({
  requestsPerSecond: z
    .number()
    .gt(0)
    .max(100000)
    .default(5)
    .describe('Escalations a node may send per second on an unmetered link; bursts of one second are allowed.'),
  bytesPerSecond: z
    .int()
    .min(1)
    .max(10 * 2 ** 30)
    .default(2 ** 20)
    .describe('Input bytes a node may send upward per second on an unmetered link; bursts of one second are allowed.'),
  meteredFactor: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe('Both rates are multiplied by this on a metered link (billed by volume); 0 stops escalation there. An offline node never escalates.'),
});
export type EscalationBudget = z.infer<typeof EscalationBudget>;

export const Escalation = z.object({
  deployment: dnsSubdomain.describe(
    'Name of the EdgeModelDeployment, in the same namespace, that answers hard examples; it takes the same inputs and should be more accurate. Never this deployment itself.',
  ),
  rule: EscalationRuleSpec.describe('When an input is hard: exactly one of confidenceBelow, marginBelow or entropyAbove.'),
  budget: EscalationBudget.prefault({}).describe('How much each node may escalate: a rate and a byte budget, tighter on metered links.'),
  waitForAnswer: z
    .boolean()
    .default(true)
    .describe(
      "true: the request waits, within its deadline, for the escalation tier's answer, and the edge answer returns (marked) when that tier is unreachable or too slow. false: the edge answer returns at once and the input is still sent upward.",
    ),
});
export type Escalation = z.infer<typeof Escalation>;

export const SELF_ESCALATION_MESSAGE = 'escalation.deployment must name another deployment, not this one';

/**
 * What happened to one request's escalation, in the `ep-escalation` reply header:
 * - `none`: the edge answer was confident; nothing went upward.
 * - `answered`: the escalation tier answered (`ep-tier: escalated`).
 * - `sent`: sent upward without waiting (waitForAnswer false); the edge answer returned.
 * - `budget`: hard, but the node's budget (or an offline or metered-at-0 link) kept it home.
 * - `unavailable`: the escalation tier did not take it (no responder, refused, error reply).
 * - `timeout`: the escalation tier did not answer within the request's remaining deadline.
 * - `unsupported`: the task's output has no score the rule can read.
 * The last four return the edge answer, marked by this header.
 */
export const ESCALATION_OUTCOMES = ['none', 'answered', 'sent', 'budget', 'unavailable', 'timeout', 'unsupported'] as const;
export const EscalationOutcome = z.enum(ESCALATION_OUTCOMES);
export type EscalationOutcome = z.infer<typeof EscalationOutcome>;

/** Which tier's answer a reply carries, in the `ep-tier` reply header. */
export const ANSWER_TIERS = ['edge', 'escalated'] as const;
export const AnswerTier = z.enum(ANSWER_TIERS);
export type AnswerTier = z.infer<typeof AnswerTier>;

/**
 * A node's escalation counters for one workload, cumulative since the workload started on it
 * (so a lost heartbeat loses nothing): the control plane sums them per deployment.
 */
export const EscalationCounters = z.object({
  /** Requests the edge model answered (the denominator of the escalation ratio). */
  requests: z.int().min(0),
  /** Requests judged hard by the rule, escalated or not. */
  hard: z.int().min(0),
  /** Requests sent upward. */
  escalated: z.int().min(0),
  /** Escalations the escalation tier answered. */
  answered: z.int().min(0),
  /** Answered escalations whose answer differed from the edge answer. */
  changed: z.int().min(0),
  /** Escalations that fell back to the edge answer: unavailable or timeout. */
  failed: z.int().min(0),
  /** Hard requests kept home by the budget or the link. */
  budgetDenied: z.int().min(0),
  /** Input bytes sent upward (tensor payloads). */
  bytesUp: z.int().min(0),
});
export type EscalationCounters = z.infer<typeof EscalationCounters>;

/** Per deployment, in status: what its nodes escalated, summed from their latest counters. */
export const EscalationStatus = z.object({
  deployment: z.string().describe('The escalation tier: an EdgeModelDeployment in this namespace.'),
  available: z.boolean().describe('True when the escalation tier has at least one Ready replica.'),
  requests: z.int().min(0).describe("Requests this deployment's replicas answered, summed over the nodes' counters."),
  escalated: z.int().min(0).describe('Requests sent to the escalation tier.'),
  ratio: z.number().min(0).max(1).optional().describe('escalated / requests, absent before the first request.'),
  answersChanged: z.int().min(0).describe("Escalated requests whose answer differed from the edge model's."),
  failed: z.int().min(0).describe('Escalations that returned the edge answer because the escalation tier was unavailable or too slow.'),
  budgetDenied: z.int().min(0).describe("Hard requests kept on the node by its budget or its link."),
  uplinkBytes: z.int().min(0).describe('Input bytes sent to the escalation tier.'),
});
export type EscalationStatus = z.infer<typeof EscalationStatus>;

/** Condition type raised on a deployment whose escalation tier has no Ready replica. */
export const ESCALATION_CONDITION = 'EscalationAvailable';
