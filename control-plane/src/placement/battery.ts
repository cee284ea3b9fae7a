// Battery tiering: the precision cap a node's power state allows, with hysteresis so that a
// battery hovering around a threshold does not move replicas back and forth.
import type { Power, Precision, Tiering } from '@edgeplane/api';

export type BatteryThresholds = Tiering['battery'];

/** Strictness of a cap: fp32 (no cap) 0, fp16 1, int8 2 (the order of PRECISIONS). */
export function precisionRank(p: Precision): 0 | 1 | 2 {
  // A comparison, not PRECISIONS.indexOf: the planner asks for every node of every plan.
  return p === 'fp32' ? 0 : p === 'fp16' ? 1 : 2;
}

/** True when a variant of precision `p` may run under `cap`. */
export function allowedUnder(p: Precision, cap: Precision): boolean {
  return precisionRank(p) >= precisionRank(cap);
}

function capAt(percent: number, fp16Below: number, int8Below: number): Precision {
  if (percent < int8Below) return 'int8';
  if (percent < fp16Below) return 'fp16';
  return 'fp32';
}

function stricter(a: Precision, b: Precision): Precision {
  return precisionRank(a) >= precisionRank(b) ? a : b;
}

function looser(a: Precision, b: Precision): Precision {
  return precisionRank(a) <= precisionRank(b) ? a : b;
}

/**
 * Precision cap for a battery at `percent`. `fp32` means no cap. A cap tightens as soon as the
 * battery falls under a threshold, but `previousCap` is lifted only once the battery is at least
 * `hysteresisPercent` above the threshold that set it.
 */
export function batteryCap(percent: number, thresholds: BatteryThresholds, previousCap?: Precision): Precision {
  const raw = capAt(percent, thresholds.fp16BelowPercent, thresholds.int8BelowPercent);
  if (previousCap === undefined) return raw;
  const h = thresholds.hysteresisPercent;
  const held = capAt(percent, thresholds.fp16BelowPercent + h, thresholds.int8BelowPercent + h);
  // The previous cap survives up to the raised thresholds, never tighter than the raw cap.
  return stricter(raw, looser(previousCap, held));
}

/** True when the node runs on a battery that is neither charging nor backed by mains. */
export function onBattery(power: Power | undefined): power is Power & { batteryPercent: number } {
  return power !== undefined && power.source !== 'mains' && power.charging !== true && power.batteryPercent !== undefined;
}

/** Cap from a node's power state: mains power, charging, or an unknown level mean no cap. */
export function capFor(power: Power | undefined, thresholds: BatteryThresholds, previousCap?: Precision): Precision {
  return onBattery(power) ? batteryCap(power.batteryPercent, thresholds, previousCap) : 'fp32';
}

/** A sentence for tierReason when a cap is in force, or undefined when there is none. */
export function capSentence(power: Power | undefined, thresholds: BatteryThresholds, cap: Precision): string | undefined {
  if (cap === 'fp32' || !onBattery(power)) return undefined;
  const pct = Math.round(power.batteryPercent);
  const threshold = cap === 'int8' ? thresholds.int8BelowPercent : thresholds.fp16BelowPercent;
  if (power.batteryPercent < threshold) return `battery ${pct}% below ${threshold}%: capped at ${cap}`;
  return `battery ${pct}%: ${cap} cap held until ${threshold + thresholds.hysteresisPercent}%`;
}
