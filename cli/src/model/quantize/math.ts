// Pure quantization arithmetic: per-channel symmetric int8 weights, asymmetric uint8
// activation parameters, and the calibration range estimators.

export interface PerChannel {
  q: Int8Array;
  scales: Float32Array;
}

/** Symmetric int8 over `axis` of a row-major tensor: scale = max|w| / 127, zero point 0. */
export function quantizePerChannel(data: Float32Array, dims: readonly number[], axis: number): PerChannel {
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = channelOf(i);
    const v = Math.abs(data[i] ?? 0);
    if (v > (maxAbs[c] ?? 0)) maxAbs[c] = v;
  }
  // An all-zero channel still needs a valid (positive) scale.
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const s = scales[channelOf(i)] ?? 1;
    q[i] = Math.max(-127, Math.min(127, Math.round((data[i] ?? 0) / s)));
  }
  return { q, scales };
}

export function dequantizePerChannel(pc: PerChannel, dims: readonly number[], axis: number): Float32Array {
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return Float32Array.from(pc.q, (v, i) => v * (pc.scales[Math.floor(i / inner) % channels] ?? 1));
}

export interface AffineParams {
  scale: number;
  zeroPoint: number;
}

/** uint8 parameters covering [min, max] (widened to contain 0, so zero is exact). */
export function uint8Params(min: number, max: number): AffineParams {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

export interface Range {
  min: number;
  max: number;
}

/** Running range of one tensor over the calibration set, with a bounded value sample. */
export class RangeTracker {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  private readonly sample: number[] = [];
  private seen = 0;
  private seed = 0x9e3779b9;
  private readonly capacity: number;

  constructor(capacity = 1 << 15) {
    this.capacity = capacity;
  }

  add(values: Float32Array): void {
    for (let i = 0; i < values.length; i++) {
      const v = values[i] ?? 0;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      // Reservoir sampling keeps a uniform sample of every value seen, in bounded memory.
      this.seen++;
      if (this.sample.length < this.capacity) this.sample.push(v);
      else {
        this.seed = (Math.imul(this.seed, 1664525) + 1013904223) >>> 0;
        const j = this.seed % this.seen;
        if (j < this.capacity) this.sample[j] = v;
      }
    }
  }

  count(): number {
    return this.seen;
  }

  minMax(): Range {
    return { min: this.min, max: this.max };
  }

  /** The central `percent` of values (99.99 drops 0.005 % at each tail). */
  percentile(percent: number): Range {
    if (!this.sample.length) return { min: 0, max: 0 };
    const sorted = Float64Array.from(this.sample).sort();
    const tail = (100 - percent) / 200;
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))] ?? 0;
    return { min: at(tail), max: at(1 - tail) };
  }
}

/**
 * uint8 parameters whose representable range lies inside [lo, hi] as ORT checks it in float32
 * (scale * (255 - zeroPoint) <= hi + epsilon), so that a Clip or Relu in front of the
 * QuantizeLinear is redundant and ORT removes it.
 */
export function uint8ParamsWithin(min: number, max: number, lo: number, hi: number): AffineParams {
  const p = uint8Params(Math.max(min, lo), Math.min(max, hi));
  const eps = 1.1920928955078125e-7;
  let scale = Math.fround(p.scale);
  const fits = (s: number) => Math.fround(s * (255 - p.zeroPoint)) <= hi + eps && Math.fround(s * (0 - p.zeroPoint)) >= lo - eps;
  // Step down one float32 ulp at a time; a few steps at most.
  for (let i = 0; i < 64 && !fits(scale); i++) scale = Math.fround(scale * (1 - 2 ** -23));
  return { scale, zeroPoint: p.zeroPoint };
}

/**
 * Parameters for a quantized tensor x in [min, max] read back as a * x + b (a > 0) by its
 * DequantizeLinear alone: dq(q) = a * s * (q - z') with z' = z - b / (a * s) an integer, the
 * scale widened as little as needed to make it one. Undefined when no such uint8 z' exists.
 */
export function affineReadBack(min: number, max: number, a: number, b: number): { q: AffineParams; dq: AffineParams } | undefined {
  if (!(a > 0)) return undefined;
  const base = uint8Params(min, max);
  if (b === 0) return { q: base, dq: { scale: base.scale * a, zeroPoint: base.zeroPoint } };
  const steps = Math.floor(Math.abs(b) / (a * base.scale));
  if (steps < 1) return undefined;
  const scale = Math.abs(b) / (a * steps);
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-Math.min(0, min) / scale)));
  const shifted = zeroPoint - Math.sign(b) * steps;
  if (shifted < 0 || shifted > 255) return undefined;
  return { q: { scale, zeroPoint }, dq: { scale: scale * a, zeroPoint: shifted } };
}
