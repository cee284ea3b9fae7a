// Which (node, variant) pairs of a deployment failed, and for how long placement avoids them.
// Pure: the reconciler feeds it the agents' reports and the failures kept in status, and gets
// back the pairs to exclude from the plan, the list to write to status, the failures that are
// news (for Events) and when to look again. The wait doubles per pair with each failure in a
// row, as a work queue's per-item backoff does, so a variant that fails everywhere is retried
// ever more rarely, never given up on, and a variant that loads again is forgotten.
import { MAX_STATUS_FAILURES, type ModelVariant, type VariantFailure, type WorkloadReport } from '@edgeplane/api';
import type { Placement } from '../placement/types.ts';

export interface FailureBackoff {
  /** Wait after a pair's first failure, ms. */
  initialMs: number;
  /** The wait doubles per failure in a row up to this, ms. */
  maxMs: number;
}

export const DEFAULT_FAILURE_BACKOFF: FailureBackoff = { initialMs: 10_000, maxMs: 300_000 };

export interface FailureInput {
  /** `<namespace>/<name>`. */
  key: string;
  variants: readonly ModelVariant[];
  /** This deployment's placements before this reconcile. */
  current: readonly Placement[];
  /** Workload reports by node, from heartbeats. */
  reports: (node: string) => readonly WorkloadReport[] | undefined;
  /** What this deployment remembers: kept in memory and in status (for a new leader). */
  known: readonly VariantFailure[];
  backoff: FailureBackoff;
  nowMs: number;
}

export interface FailureResult {
  /** Every failure still remembered, newest first, at most MAX_STATUS_FAILURES. */
  failures: VariantFailure[];
  /** Variant names per node that placement must not use now. */
  excluded: Map<string, Set<string>>;
  /** Failures first seen in this call (a new pair, or a retry that failed again). */
  fresh: VariantFailure[];
  /** When the earliest backoff ends, ms from now; undefined when none is running. */
  nextRetryMs: number | undefined;
}

const pairKey = (node: string, variant: string) => `${node}\u0000${variant}`;

/** ms after the failure before the pair may be placed again. */
export function backoffMs(count: number, b: FailureBackoff): number {
  const doubled = b.initialMs * 2 ** Math.min(Math.max(0, count - 1), 30);
  return Math.min(b.maxMs, doubled);
}

interface Seen {
  node: string;
  variant: string;
  reason: string;
  message?: string | undefined;
}

/** What the node says about this deployment: a failed target, and what runs. */
function observe(key: string, node: string, reports: readonly WorkloadReport[] | undefined): { failed: Seen[]; ready: string | undefined } {
  const failed: Seen[] = [];
  let ready: string | undefined;
  for (const r of reports ?? []) {
    if (r.key !== key) continue;
    if (r.phase === 'Failed') failed.push({ node, variant: r.variant, reason: r.reason ?? 'Failed', message: r.message });
    else if (r.phase === 'Ready') ready = r.variant;
    // A switch that did not come up while the previous variant keeps serving.
    if (r.failedVariant !== undefined && r.failedVariant !== r.variant) {
      failed.push({ node, variant: r.failedVariant, reason: r.reason ?? 'Failed', message: r.message });
    }
  }
  return { failed, ready };
}

type Observed = ReturnType<typeof observe>;
const NOTHING: Observed = { failed: [], ready: undefined };
/** Each node's last reports as observed for one deployment: a reconcile reads the same arrays again. */
const observed = new WeakMap<readonly WorkloadReport[], { key: string; node: string; seen: Observed }>();

function observeOnce(key: string, node: string, reports: readonly WorkloadReport[] | undefined): Observed {
  if (reports === undefined) return NOTHING;
  const known = observed.get(reports);
  if (known !== undefined && known.key === key && known.node === node) return known.seen;
  const seen = observe(key, node, reports);
  observed.set(reports, { key, node, seen });
  return seen;
}

export function trackFailures(input: FailureInput): FailureResult {
  const { key, backoff, nowMs } = input;
  const digests = new Map(input.variants.map((v) => [v.name, v.sha256]));
  const byPair = new Map<string, VariantFailure>();
  for (const f of input.known) {
    // A variant removed from the spec or given another artifact starts with a clean slate.
    if (digests.get(f.variant) !== f.sha256) continue;
    const k = pairKey(f.node, f.variant);
    const prev = byPair.get(k);
    if (!prev || Date.parse(f.lastFailureTime) > Date.parse(prev.lastFailureTime)) byPair.set(k, f);
  }

  const placedOn = new Map<string, Placement>();
  for (const p of input.current) if (p.deployment === key) placedOn.set(p.node, p);

  const fresh: VariantFailure[] = [];
  for (const [node, placement] of placedOn) {
    const { failed, ready } = observeOnce(key, node, input.reports(node));
    // The variant runs: whatever failed there before has passed.
    if (ready !== undefined && byPair.size > 0 && !failed.some((f) => f.variant === ready)) byPair.delete(pairKey(node, ready));
    for (const seen of failed) {
      const sha256 = digests.get(seen.variant);
      if (sha256 === undefined) continue;
      const k = pairKey(node, seen.variant);
      const prev = byPair.get(k);
      if (prev) {
        const retryAt = Date.parse(prev.retryAfter);
        // Still backing off, or a report left over from before the retry: not a new failure.
        // A retry is the placement taking this variant again after the backoff ended.
        const retried = nowMs >= retryAt && placement.variant === seen.variant && (placement.sinceMs ?? 0) >= retryAt;
        if (!retried) continue;
      }
      const count = (prev?.count ?? 0) + 1;
      const failure: VariantFailure = {
        node,
        variant: seen.variant,
        sha256,
        reason: seen.reason.slice(0, 256),
        ...(seen.message ? { message: seen.message.slice(0, 1024) } : {}),
        count,
        lastFailureTime: new Date(nowMs).toISOString(),
        retryAfter: new Date(nowMs + backoffMs(count, backoff)).toISOString(),
      };
      byPair.set(k, failure);
      fresh.push(failure);
    }
  }

  const failures = [...byPair.values()]
    .sort((a, b) => Date.parse(b.lastFailureTime) - Date.parse(a.lastFailureTime) || (a.node < b.node ? -1 : a.node > b.node ? 1 : a.variant < b.variant ? -1 : 1))
    .slice(0, MAX_STATUS_FAILURES);
  const excluded = new Map<string, Set<string>>();
  let nextRetryMs: number | undefined;
  for (const f of failures) {
    const wait = Date.parse(f.retryAfter) - nowMs;
    if (wait <= 0) continue;
    let set = excluded.get(f.node);
    if (!set) excluded.set(f.node, (set = new Set()));
    set.add(f.variant);
    nextRetryMs = nextRetryMs === undefined ? wait : Math.min(nextRetryMs, wait);
  }
  return { failures, excluded, fresh, nextRetryMs };
}

/** Failures whose backoff is still running. */
export function activeFailures(failures: readonly VariantFailure[], nowMs: number): VariantFailure[] {
  return failures.filter((f) => Date.parse(f.retryAfter) > nowMs);
}

/** "det-int8 failed on edge-1 (DigestMismatch): <message>; not placed there for 10 s (failure 1 in a row)". */
export function describeFailure(f: VariantFailure, nowMs: number): string {
  const waitS = Math.max(0, Math.round((Date.parse(f.retryAfter) - nowMs) / 1000));
  return `${f.variant} failed on ${f.node} (${f.reason})${f.message ? `: ${f.message}` : ''}; not placed there for ${waitS} s (failure ${f.count} in a row)`;
}
