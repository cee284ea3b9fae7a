// How long a simulated executor spends downloading and loading a variant, and the latency it
// then reports. Pure.
import type { Accelerator, AssignedVariant, Network, Precision } from '@edgeplane/api';

export interface PhaseTimingOptions {
  /**
   * Real durations are multiplied by this, so that a 10 MB model over LTE (about 7 s) takes
   * 140 ms at the default 0.02 and a benchmark stays short. 1 is real time.
   */
  timeScale: number;
  /** Bandwidth assumed when the link reports none, Mbit/s. */
  defaultBandwidthMbps: number;
  /** Reading a model from disk into an accelerator, MB/s, before scaling. */
  loadMBps: number;
  /** Session creation cost that does not depend on size, ms, before scaling. */
  loadFixedMs: number;
}

export const defaultPhaseTiming: PhaseTimingOptions = {
  timeScale: 0.02,
  defaultBandwidthMbps: 10,
  loadMBps: 200,
  loadFixedMs: 150,
};

/** Time to fetch `sizeBytes` over the link, ms, scaled. 0 when the artifact is cached. */
export function downloadMs(sizeBytes: number, network: Network, cached: boolean, o: PhaseTimingOptions = defaultPhaseTiming): number {
  if (cached) return 0;
  const mbps = network.bandwidthMbps && network.bandwidthMbps > 0 ? network.bandwidthMbps : o.defaultBandwidthMbps;
  const seconds = (sizeBytes * 8) / (mbps * 1e6) + (network.rttMs ?? 0) / 1000;
  return seconds * 1000 * o.timeScale;
}

/** Time to load the variant into a session, ms, scaled. */
export function loadMs(sizeBytes: number, o: PhaseTimingOptions = defaultPhaseTiming): number {
  return (o.loadFixedMs + (sizeBytes / (o.loadMBps * 1e6)) * 1000) * o.timeScale;
}

const BYTES_PER_WEIGHT: Record<Precision, number> = { fp32: 4, fp16: 2, int8: 1 };
/**
 * Giga-operations per inference per million weights. Convolutional vision models reuse each
 * weight many times over an image but have few weights: MobileNetV2 (3.4 M weights,
 * 0.3 GFLOPs) and ResNet-50 (25 M, 4.1 GFLOPs) both come to about 0.1 to 0.16.
 */
const GOPS_PER_MILLION_WEIGHTS = 0.15;
/** p99 over p50 of a steady executor. */
const TAIL = 1.3;

export interface Latency {
  p50Ms: number;
  p99Ms: number;
}

/**
 * Latency of the variant on the accelerator at batch 1, derived as the control plane's
 * predictor does (operations over TOPS times an efficiency), with operations estimated from
 * the weights in the artifact. `efficiency` is the node's own draw from its profile.
 */
export function latencyOf(variant: Pick<AssignedVariant, 'sizeBytes' | 'precision'>, accelerator: Accelerator | undefined, efficiency: number): Latency {
  const weightsM = variant.sizeBytes / BYTES_PER_WEIGHT[variant.precision] / 1e6;
  const gops = weightsM * GOPS_PER_MILLION_WEIGHTS;
  const tops = accelerator?.tops[variant.precision] ?? 0;
  // An accelerator without this precision would fall back to the CPU path: call it 0.05 TOPS.
  const p50Ms = 0.2 + (gops / ((tops > 0 ? tops : 0.05) * 1000 * efficiency)) * 1000;
  return { p50Ms, p99Ms: p50Ms * TAIL };
}
