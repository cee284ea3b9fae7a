// How long an escalation may take out of a request's deadline. Pure.
//
// The edge answer is ready; what is left of the deadline pays for the trip upward, the big
// tier's inference and the reply to the caller. The request upward waits for the remaining
// time minus a margin (so this node still replies in time), and tells the big tier a deadline
// one more margin shorter (so its answer has time to travel back).

/** A request without a deadline waits this long for the escalation tier. */
export const DEFAULT_ESCALATION_WAIT_MS = 2_000;
/** Sent without waiting (waitForAnswer false): how long the background request may take. */
export const BACKGROUND_ESCALATION_WAIT_MS = 5_000;
/** Below this, the escalation tier has no time to answer: the escalation is not sent. */
export const MIN_UPWARD_DEADLINE_MS = 10;

/** A tenth of the time left, at least 5 ms and at most 50 ms. */
export function replyMarginMs(remainingMs: number): number {
  return Math.min(50, Math.max(5, remainingMs * 0.1));
}

export interface UpwardTiming {
  /** How long this node waits for the escalation tier's reply, ms. */
  waitMs: number;
  /** The `ep-deadline-ms` the escalation tier is given, ms. */
  deadlineMs: number;
}

/** The timing for `remainingMs` left of the request's deadline; null when too little is left. */
export function upwardTiming(remainingMs: number): UpwardTiming | null {
  if (!Number.isFinite(remainingMs)) return null;
  const margin = replyMarginMs(remainingMs);
  const waitMs = Math.floor(remainingMs - margin);
  const deadlineMs = Math.floor(waitMs - margin);
  if (deadlineMs < MIN_UPWARD_DEADLINE_MS) return null;
  return { waitMs, deadlineMs };
}
