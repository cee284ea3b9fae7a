// Joint inference for one workload on this node: after the edge model answers, the answer is
// scored, the rule and the node's budget decide, and a hard input goes to the escalation tier.
// Waiting (waitForAnswer true), the caller gets the escalation tier's answer, or the edge answer
// marked `unavailable` or `timeout`, always within its deadline; not waiting, the edge answer
// returns at once and the input goes upward in the background, a bounded number at a time.
// The transport, the link, the credential's grant and the clock are passed in.
import {
  ESCALATION_OUTCOMES,
  escalationRuleOf,
  type AnswerTier,
  type EscalationCounters,
  type EscalationOutcome,
  type WorkloadAssignment,
} from '@edgeplane/api';
import type { Logger } from 'pino';
import type { WireTensor } from '../runtime/tensors.ts';
import { decide, fullBucket, refill, type BucketState, type LinkCost } from './decide.ts';
import { BACKGROUND_ESCALATION_WAIT_MS, DEFAULT_ESCALATION_WAIT_MS, upwardTiming, type UpwardTiming } from './deadline.ts';
import { answerScore, answersDiffer, scorerFor, type ScorerKind } from './task.ts';

export interface DeploymentRef {
  namespace: string;
  deployment: string;
}

export type UpwardFailure = 'unavailable' | 'timeout';

/** The escalation tier did not answer: nobody serves it, it refused or failed, or it was too slow. */
export class UpwardError extends Error {
  override readonly name = 'UpwardError';
  readonly code = 'ESCALATION_FAILED';
  readonly outcome: UpwardFailure;

  constructor(outcome: UpwardFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.outcome = outcome;
  }
}

export interface UpwardReply {
  outputs: WireTensor[];
  /** The node and variant that answered, as its reply named them. */
  node?: string;
  variant?: string;
}

/** Sends one input to a deployment's inference subject; rejects with UpwardError. */
export interface Upward {
  request(to: DeploymentRef, inputs: readonly WireTensor[], timing: UpwardTiming): Promise<UpwardReply>;
}

/** Whether the node's credential lets it send to a deployment (an `escalate:` grant). */
export interface EscalationGrant {
  /** True when the current credential carries the grant: checked on every hard input. */
  may(to: DeploymentRef): boolean;
  /** Asks for a credential that carries it (a renewal); true once it does. */
  ask(to: DeploymentRef): Promise<boolean>;
}

export interface EscalatorOptions {
  key: string;
  /** The connection's transport; null while there is none (the node is offline). */
  upward: () => Upward | null;
  /** The uplink now: its cost scales the budget, offline stops escalation. */
  link: () => LinkCost;
  /** Absent: the credential is not gated per deployment (or there is none). */
  grant?: EscalationGrant;
  /** Escalations in flight at most; a hard input beyond them is kept home (`budget`). Default 64. */
  maxInFlight?: number;
  /** Between grant requests while the grant is missing, ms (default 30 s). */
  grantRetryMs?: number;
  /** Monotonic ms (default performance.now). */
  now?: () => number;
  log: Logger;
}

export interface EscalationMark {
  tier: AnswerTier;
  outcome: EscalationOutcome;
  /** The node and variant of the escalation tier that answered (`answered` only). */
  node?: string;
  variant?: string;
}

/** An answer and, for an escalating workload, which tier gave it and what became of the escalation. */
export interface Answer {
  outputs: WireTensor[];
  escalation?: EscalationMark;
}

/** What the escalator needs of the served model. */
export interface EdgeModel {
  readonly assignment: WorkloadAssignment;
  infer(tensors: readonly WireTensor[], options?: { timeoutMs?: number }): Promise<WireTensor[]>;
}

export interface AnswerOptions {
  /** The request's deadline from its arrival, ms. */
  timeoutMs?: number;
  /** The request came from another tier's escalation: answer it here, never send it on. */
  escalated?: boolean;
}

const zeroCounters = (): EscalationCounters => ({ requests: 0, hard: 0, escalated: 0, answered: 0, changed: 0, failed: 0, budgetDenied: 0, bytesUp: 0 });

export class Escalator {
  readonly key: string;
  readonly #o: EscalatorOptions;
  readonly #now: () => number;
  readonly #counters = zeroCounters();
  readonly #outcomes = Object.fromEntries(ESCALATION_OUTCOMES.map((o) => [o, 0])) as Record<EscalationOutcome, number>;
  readonly #background = new Set<Promise<void>>();
  #bucket: BucketState | null = null;
  #inFlight = 0;
  /** When the grant was last asked for, ms, per deployment. */
  readonly #asked = new Map<string, number>();

  constructor(o: EscalatorOptions) {
    this.key = o.key;
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Cumulative since the workload started here, for the heartbeat's workload report. */
  counters(): EscalationCounters {
    return { ...this.#counters };
  }

  /** Replies by outcome, cumulative, for metrics. */
  outcomes(): Record<EscalationOutcome, number> {
    return { ...this.#outcomes };
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no background escalation is in flight. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.all([...this.#background]);
  }

  /** The edge answer, then the escalation the assignment asks for. Edge inference errors propagate as they are. */
  async answer(model: EdgeModel, tensors: readonly WireTensor[], options: AnswerOptions = {}): Promise<Answer> {
    const startedMs = this.#now();
    const assignment = model.assignment;
    const outputs = await model.infer(tensors, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
    const escalation = assignment.escalation;
    if (!escalation) return { outputs };
    if (options.escalated) return { outputs, escalation: { tier: 'edge', outcome: 'none' } };
    this.#counters.requests++;
    const edge = (outcome: EscalationOutcome): Answer => {
      this.#outcomes[outcome]++;
      return { outputs, escalation: { tier: 'edge', outcome } };
    };

    const kind = scorerFor(assignment.task);
    if (!kind) return edge('unsupported');
    let score;
    try {
      score = answerScore(kind, outputs);
    } catch (err) {
      this.#o.log.debug({ workload: this.key, err }, 'the edge answer has no score the escalation rule can read');
      return edge('unsupported');
    }

    const nowMs = this.#now();
    const link = this.#o.link();
    const limits = escalation.budget;
    const bytes = tensors.reduce((n, t) => n + t.data.byteLength, 0);
    const bucket = this.#bucket ?? fullBucket(limits, link, nowMs);
    const decision = decide(escalationRuleOf(escalation.rule), score, { bytes, nowMs, link, limits, bucket });
    if (!decision.hard) {
      this.#bucket = decision.bucket;
      return edge('none');
    }
    this.#counters.hard++;
    // Anything below that keeps the input home leaves the bucket refilled but not spent.
    const unspent = refill(bucket, limits, link, nowMs);
    if (!decision.escalate || this.#inFlight >= (this.#o.maxInFlight ?? 64)) {
      this.#bucket = decision.escalate ? unspent : decision.bucket;
      this.#counters.budgetDenied++;
      return edge('budget');
    }
    const to: DeploymentRef = { namespace: assignment.namespace, deployment: escalation.deployment };
    const upward = this.#o.upward();
    if (!upward || !this.#granted(to)) {
      this.#bucket = unspent;
      this.#counters.failed++;
      return edge('unavailable');
    }
    // Waiting, the trip fits in what is left of the caller's deadline; not waiting, the caller has its answer already.
    const remainingMs = options.timeoutMs !== undefined ? options.timeoutMs - (nowMs - startedMs) : DEFAULT_ESCALATION_WAIT_MS;
    const timing = upwardTiming(escalation.waitForAnswer ? remainingMs : BACKGROUND_ESCALATION_WAIT_MS);
    if (!timing) {
      // Too little of the deadline left for the trip: nothing is sent.
      this.#bucket = unspent;
      this.#counters.failed++;
      return edge('timeout');
    }
    this.#bucket = decision.bucket;
    this.#counters.escalated++;
    this.#counters.bytesUp += bytes;

    if (!escalation.waitForAnswer) {
      const p = this.#send(upward, to, tensors, timing, kind, outputs).then(
        () => undefined,
        () => undefined,
      );
      this.#background.add(p);
      void p.finally(() => this.#background.delete(p));
      return edge('sent');
    }
    try {
      const reply = await this.#send(upward, to, tensors, timing, kind, outputs);
      this.#outcomes.answered++;
      return {
        outputs: reply.outputs,
        escalation: { tier: 'escalated', outcome: 'answered', ...(reply.node ? { node: reply.node } : {}), ...(reply.variant ? { variant: reply.variant } : {}) },
      };
    } catch (err) {
      return edge(err instanceof UpwardError ? err.outcome : 'unavailable');
    }
  }

  /** One request upward, counted; rejects with UpwardError. */
  async #send(upward: Upward, to: DeploymentRef, tensors: readonly WireTensor[], timing: UpwardTiming, kind: ScorerKind, edgeOutputs: readonly WireTensor[]): Promise<UpwardReply> {
    this.#inFlight++;
    try {
      const reply = await upward.request(to, tensors, timing);
      this.#counters.answered++;
      if (answersDiffer(kind, edgeOutputs, reply.outputs)) this.#counters.changed++;
      return reply;
    } catch (err) {
      this.#counters.failed++;
      const failure = err instanceof UpwardError ? err : new UpwardError('unavailable', (err as Error)?.message ?? String(err), { cause: err });
      this.#o.log.debug({ workload: this.key, to: `${to.namespace}/${to.deployment}`, outcome: failure.outcome, err: failure }, 'escalation fell back to the edge answer');
      throw failure;
    } finally {
      this.#inFlight--;
    }
  }

  /** The grant, asked for in the background when missing (at most once per retry interval). */
  #granted(to: DeploymentRef): boolean {
    const grant = this.#o.grant;
    if (!grant || grant.may(to)) return true;
    const id = `${to.namespace}.${to.deployment}`;
    const nowMs = this.#now();
    const last = this.#asked.get(id);
    if (last === undefined || nowMs - last >= (this.#o.grantRetryMs ?? 30_000)) {
      this.#asked.set(id, nowMs);
      this.#o.log.info({ workload: this.key, to: `${to.namespace}/${to.deployment}` }, 'the node credential does not grant escalating to this deployment yet; asking for a renewal');
      void grant.ask(to).catch((err: unknown) => this.#o.log.warn({ workload: this.key, err }, 'cannot ask for the escalation grant'));
    }
    return false;
  }
}
