// Enrolment decisions that count token uses, batched per token: the requests waiting on one
// token are decided against one read of its Secret, in turn (each counted use visible to the
// next), and their uses written in one compare-and-swap. A fleet enrolling on one token then
// costs two API calls per batch, not per node. If the swap loses to another writer, the batch's
// counted enrolments are refused as UNAVAILABLE and their agents ask again; nothing loops here.
import { CREDENTIAL_REFUSALS, type BootstrapToken } from '@edgeplane/api';
import type { BootstrapTokens, TokenRead } from '../kube/bootstrap-tokens.ts';
import type { EnrollDecision } from './enroll-checks.ts';

/** Decides one enrolment against the token as counted so far (null: no usable token Secret). */
export type TokenDecider = (token: BootstrapToken | null) => EnrollDecision;

interface Waiting {
  decide: TokenDecider;
  resolve: (d: EnrollDecision) => void;
  reject: (err: unknown) => void;
}

export interface TokenUsesOptions {
  tokens: Pick<BootstrapTokens, 'read' | 'countUses'>;
  /** Largest batch decided against one read. */
  maxBatch?: number;
  /** A token Secret that does not parse (logged by the caller, once per batch). */
  onInvalid?: (tokenId: string, read: Extract<TokenRead, { found: false }>) => void;
}

export class TokenUses {
  readonly #o: TokenUsesOptions;
  readonly #queues = new Map<string, Waiting[]>();

  constructor(options: TokenUsesOptions) {
    this.#o = options;
  }

  decide(tokenId: string, decide: TokenDecider): Promise<EnrollDecision> {
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(tokenId);
      if (queue) {
        queue.push({ decide, resolve, reject });
        return;
      }
      this.#queues.set(tokenId, [{ decide, resolve, reject }]);
      void this.#drain(tokenId);
    });
  }

  async #drain(tokenId: string): Promise<void> {
    const queue = this.#queues.get(tokenId)!;
    while (queue.length) {
      const batch = queue.splice(0, this.#o.maxBatch ?? 128);
      try {
        const decisions = await this.#decideBatch(tokenId, batch);
        batch.forEach((w, i) => w.resolve(decisions[i]!));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#queues.delete(tokenId);
  }

  async #decideBatch(tokenId: string, batch: Waiting[]): Promise<EnrollDecision[]> {
    const read = await this.#o.tokens.read(tokenId);
    if (!read.found) {
      if (read.why === 'invalid') this.#o.onInvalid?.(tokenId, read);
      return batch.map((w) => w.decide(null));
    }
    const token = { ...read.token };
    const decisions = batch.map((w) => {
      const d = w.decide(token);
      if (d.ok && d.countUse) token.uses++;
      return d;
    });
    const counted = token.uses - read.token.uses;
    if (counted === 0) return decisions;
    if ((await this.#o.tokens.countUses(read, counted)) === 'counted') return decisions;
    return decisions.map((d) => (d.ok && d.countUse ? { ok: false, reason: CREDENTIAL_REFUSALS.unavailable, detail: 'another writer changed the token; retry' } : d));
  }
}
