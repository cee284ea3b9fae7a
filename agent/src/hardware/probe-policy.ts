// When the agent measures its link. Placement reads bandwidth only to tell whether an artifact
// arrives by its deadline, so the figure must exist and follow a change of link, not be fresh
// by the hour: a full probe (payloads up to 256 KiB) runs only when there is no figure for the
// current link, the link changed, the round trip moved a lot, or the figure is older than
// `maxAgeMs`; in between, a round-trip check of three empty requests (a few hundred bytes)
// watches for a change. Transfers that happen anyway (artifact downloads) refresh the figure
// for free. Pure functions over explicit state and time, so they are table-tested.

export interface LinkEstimate {
  bandwidthMbps: number;
  rttMs: number;
  /** The link it was measured on (type and interface), so a change of link invalidates it. */
  link: string;
  /** When the bandwidth was last measured, by a probe or a transfer, ms since the epoch. */
  bandwidthAtMs: number;
  /** When the round trip was last checked, ms since the epoch. */
  rttAtMs: number;
}

export interface ProbePolicyOptions {
  /** Round-trip check period on an unmetered link, ms (metered: `meteredFactor` x). */
  checkEveryMs: number;
  /** A bandwidth figure older than this is measured again, ms (metered: `meteredFactor` x). */
  maxAgeMs: number;
  meteredFactor: number;
  /** A round trip this many times longer or shorter than the estimate's calls for a full probe... */
  rttShiftFactor: number;
  /** ...when it also moved by this many ms: jitter on a fast link doubles a round trip of 1 ms. */
  rttShiftMinMs: number;
  /** A transfer counts as a bandwidth sample from this many bytes... */
  minTransferBytes: number;
  /** ...and this many ms, so the round trip does not dominate it. */
  minTransferMs: number;
}

export const DEFAULT_PROBE_POLICY: ProbePolicyOptions = {
  checkEveryMs: 3_600_000,
  maxAgeMs: 7 * 24 * 3_600_000,
  meteredFactor: 12,
  rttShiftFactor: 2,
  rttShiftMinMs: 20,
  minTransferBytes: 256 * 1024,
  minTransferMs: 50,
};

export type ProbeReason = 'no-estimate' | 'link-changed' | 'stale' | 'rtt-shifted';
export type ProbeDecision = { kind: 'none'; nextCheckAtMs: number } | { kind: 'rtt' } | { kind: 'full'; reason: ProbeReason };

const scaled = (ms: number, metered: boolean, o: ProbePolicyOptions) => ms * (metered ? o.meteredFactor : 1);

/** What to measure now on `link`, given the estimate kept so far. */
export function decideProbe(estimate: LinkEstimate | null, link: string, metered: boolean, nowMs: number, o: ProbePolicyOptions = DEFAULT_PROBE_POLICY): ProbeDecision {
  if (!estimate) return { kind: 'full', reason: 'no-estimate' };
  if (estimate.link !== link) return { kind: 'full', reason: 'link-changed' };
  if (nowMs - estimate.bandwidthAtMs >= scaled(o.maxAgeMs, metered, o)) return { kind: 'full', reason: 'stale' };
  const checkAt = estimate.rttAtMs + scaled(o.checkEveryMs, metered, o);
  if (nowMs >= checkAt) return { kind: 'rtt' };
  return { kind: 'none', nextCheckAtMs: Math.min(checkAt, estimate.bandwidthAtMs + scaled(o.maxAgeMs, metered, o)) };
}

/** The estimate after a full probe. */
export function afterFullProbe(m: { bandwidthMbps: number; rttMs: number }, link: string, nowMs: number): LinkEstimate {
  return { bandwidthMbps: m.bandwidthMbps, rttMs: m.rttMs, link, bandwidthAtMs: nowMs, rttAtMs: nowMs };
}

/** After a round-trip check: the estimate kept (round trip updated), or a full probe due. */
export function afterRttCheck(estimate: LinkEstimate, rttMs: number, nowMs: number, o: ProbePolicyOptions = DEFAULT_PROBE_POLICY): { estimate: LinkEstimate; fullProbe: boolean } {
  const ratio = Math.max(rttMs, 0.01) / Math.max(estimate.rttMs, 0.01);
  const shifted = (ratio >= o.rttShiftFactor || ratio <= 1 / o.rttShiftFactor) && Math.abs(rttMs - estimate.rttMs) >= o.rttShiftMinMs;
  return { estimate: { ...estimate, rttMs, rttAtMs: nowMs }, fullProbe: shifted };
}

/**
 * A transfer that happened anyway (an artifact download) as a bandwidth sample: it replaces the
 * figure when it is large and long enough to measure, on the same link. Null when it says nothing.
 */
export function afterTransfer(estimate: LinkEstimate | null, t: { bytes: number; elapsedMs: number; link: string; atMs: number }, o: ProbePolicyOptions = DEFAULT_PROBE_POLICY): LinkEstimate | null {
  if (t.bytes < o.minTransferBytes || t.elapsedMs < o.minTransferMs) return null;
  // On a link without an estimate the full probe comes first: it also gives the round trip.
  if (!estimate || estimate.link !== t.link) return null;
  const transferMs = Math.max(t.elapsedMs - estimate.rttMs, 1);
  return { ...estimate, bandwidthMbps: Number(((t.bytes * 8) / (transferMs * 1000)).toPrecision(3)), bandwidthAtMs: t.atMs };
}

/**
 * Bytes per second an idle node spends on probes under this policy, once its figure exists:
 * a full probe every `maxAgeMs`, a round-trip check every `checkEveryMs`.
 */
export function idleProbeBytesPerSec(fullProbeBytes: number, rttCheckBytes: number, metered: boolean, o: ProbePolicyOptions = DEFAULT_PROBE_POLICY): number {
  return (fullProbeBytes * 1000) / scaled(o.maxAgeMs, metered, o) + (rttCheckBytes * 1000) / scaled(o.checkEveryMs, metered, o);
}
