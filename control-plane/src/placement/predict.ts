// Latency and energy predictions for a variant on an accelerator.
import type { Accelerator, AcceleratorType, Precision } from '@edgeplane/api';

/** Peak TOPS of the accelerator at `p`, or 0 when it does not run that precision. */
export function topsAt(acc: Accelerator, p: Precision): number {
  if (!acc.precisions.includes(p)) return 0;
  const tops = acc.tops[p];
  return tops !== undefined && tops > 0 ? tops : 0;
}

/** An accelerator supports a precision when it lists it and reports its TOPS. */
export function supports(acc: Accelerator, p: Precision): boolean {
  return topsAt(acc, p) > 0;
}

/**
 * Predicted p99 latency in ms at batch 1: `gflops` giga-operations over `tops` tera-operations per
 * second, of which a real model reaches the fraction `efficiency`:
 * seconds = gflops / (tops * 1000 * efficiency), times 1000 for milliseconds.
 */
export function predictP99Ms(gflops: number, tops: number, efficiency: number): number {
  return (gflops / (tops * 1000 * efficiency)) * 1000;
}

/** Typical draw under load when the agent does not report one, watts. */
const DEFAULT_WATTS: Record<AcceleratorType, number> = {
  CPU: 15,
  GPU: 30,
  NPU: 5,
  VPU: 2,
  TPU: 2,
  DSP: 3,
  FPGA: 10,
};

export function wattsOf(acc: Accelerator): number {
  return acc.watts ?? DEFAULT_WATTS[acc.type];
}

/** Joules per inference: watts times p99 latency in seconds. */
export function joulesPerInference(watts: number, p99Ms: number): number {
  return (watts * p99Ms) / 1000;
}
