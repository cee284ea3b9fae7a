// Reading and writing initializer data in any of the layouts ONNX allows (raw bytes or typed
// fields), plus IEEE half-precision conversion for the fp16 variant.
import { DataType, num, type Tensor } from './proto.ts';
import { float16ToFloat32, float32ToFloat16 } from '@edgeplane/api';

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

// The binary16 codec is shared with the agent's tensor wire format.
export { float16ToFloat32, float32ToFloat16 };
