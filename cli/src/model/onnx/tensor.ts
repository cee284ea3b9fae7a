// Reading and writing initializer data in any of the layouts ONNX allows (raw bytes or typed
// fields), plus IEEE half-precision conversion for the fp16 variant.
import { DataType, num, type Tensor } from './proto.ts';

export function dimsOf(t: Tensor): number[] {
  return (t.dims ?? []).map(num);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function aligned(raw: Uint8Array): ArrayBuffer {
  // Decoded raw_data is a view into the file buffer, often at an odd offset: copy it
  // (Buffer#slice would return another view, so copy through a fresh Uint8Array).
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return copy.buffer;
}

/** A float tensor's values as float32 (float16 is widened). */
export function tensorFloats(t: Tensor): Float32Array {
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  switch (t.dataType) {
    case DataType.FLOAT:
      return raw ? new Float32Array(aligned(raw)) : Float32Array.from(t.floatData ?? []);
    case DataType.DOUBLE:
      return Float32Array.from(raw ? new Float64Array(aligned(raw)) : (t.doubleData ?? []));
    case DataType.FLOAT16: {
      const bits = raw ? new Uint16Array(aligned(raw)) : Uint16Array.from(t.int32Data ?? []);
      return Float32Array.from(bits, float16ToFloat32);
    }
    default:
      throw new Error(`tensor ${t.name ?? ''} has data type ${t.dataType}, not a float type`);
  }
}

/** An integer tensor's values as numbers (shape tensors, axes, small constants). */
export function tensorInts(t: Tensor): number[] {
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  switch (t.dataType) {
    case DataType.INT64:
      return raw ? Array.from(new BigInt64Array(aligned(raw)), Number) : (t.int64Data ?? []).map(num);
    case DataType.INT32:
      return raw ? Array.from(new Int32Array(aligned(raw))) : [...(t.int32Data ?? [])];
    case DataType.INT8:
      return raw ? Array.from(new Int8Array(aligned(raw))) : [...(t.int32Data ?? [])];
    case DataType.UINT8:
    case DataType.BOOL:
      return raw ? Array.from(raw) : [...(t.int32Data ?? [])];
    case DataType.FLOAT:
    case DataType.DOUBLE:
    case DataType.FLOAT16:
      return Array.from(tensorFloats(t));
    default:
      throw new Error(`tensor ${t.name ?? ''} has data type ${t.dataType}, not readable as integers`);
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

export function floatTensor(name: string, dims: readonly number[], data: Float32Array): Tensor {
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: bytesOf(data) };
}

export function float16Tensor(name: string, dims: readonly number[], bits: Uint16Array): Tensor {
  return { name, dims: [...dims], dataType: DataType.FLOAT16, rawData: bytesOf(bits) };
}

export function int8Tensor(name: string, dims: readonly number[], data: Int8Array): Tensor {
  return { name, dims: [...dims], dataType: DataType.INT8, rawData: bytesOf(data) };
}

export function uint8Tensor(name: string, dims: readonly number[], data: Uint8Array): Tensor {
  return { name, dims: [...dims], dataType: DataType.UINT8, rawData: bytesOf(data) };
}

export function int32Tensor(name: string, dims: readonly number[], data: Int32Array): Tensor {
  return { name, dims: [...dims], dataType: DataType.INT32, rawData: bytesOf(data) };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): Tensor {
  return { name, dims: [...dims], dataType: DataType.INT64, rawData: bytesOf(BigInt64Array.from(values, BigInt)) };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE binary16 bits, round to nearest even, overflow to infinity. */
export function float32ToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
  e = half >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : half);
}

export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
