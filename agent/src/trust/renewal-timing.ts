// When to renew a credential, pure: at two thirds of its lifetime (as kubelet rotates its
// certificate between 70 % and 90 %), leaving a third of it to ride out a control plane or an
// uplink that is away; after a failed attempt, back off but never past the expiry.
import { backoffMs, type BackoffOptions } from '../fleet/backoff.ts';

export const RENEW_AT_FRACTION = 2 / 3;
export const RENEW_RETRY: BackoffOptions = { initialMs: 5_000, maxMs: 5 * 60_000 };

export interface Lifetime {
  issuedAtS: number;
  /** Null: the credential does not expire, so it is never renewed for age. */
  expiresAtS: number | null;
}

/** Epoch ms at which a credential should be renewed, or null when it never expires. */
export function renewAtMs(l: Lifetime): number | null {
  if (l.expiresAtS === null) return null;
  const lifetimeS = Math.max(0, l.expiresAtS - l.issuedAtS);
  return Math.round((l.issuedAtS + lifetimeS * RENEW_AT_FRACTION) * 1000);
}

/** Ms from `nowMs` until renewal is due (0 when overdue), or null when never. */
export function renewDelayMs(l: Lifetime, nowMs: number): number | null {
  const at = renewAtMs(l);
  return at === null ? null : Math.max(0, at - nowMs);
}

/**
 * Delay before retry `attempt` (0-based) after a failed renewal: exponential with jitter, and
 * at most half of the time the credential has left (at least 1 s), so the last attempts come
 * closer together instead of landing after the expiry; plain backoff once it has expired.
 */
export function renewRetryDelayMs(attempt: number, l: Lifetime, nowMs: number, random: () => number = Math.random): number {
  const backoff = backoffMs(attempt, RENEW_RETRY, random);
  if (l.expiresAtS === null) return backoff;
  const leftMs = l.expiresAtS * 1000 - nowMs;
  // Once expired, nothing is gained by hurrying.
  if (leftMs <= 0) return backoff;
  return Math.max(1000, Math.min(backoff, Math.floor(leftMs / 2)));
}

/** Whether the credential is past its expiry at `nowMs` (nats-server refuses it then). */
export function isExpired(l: Lifetime, nowMs: number): boolean {
  return l.expiresAtS !== null && l.expiresAtS * 1000 <= nowMs;
}
