// The one tensor codec of the Open Inference Protocol, used by REST (JSON and the binary
// extension), gRPC and the NATS path: JSON tensors (name, shape, datatype and data, flat or
// nested, row-major), raw little-endian tensors checked against their shape, and BYTES
// elements with their 4-byte length prefixes. Pure conversions to and from wire tensors.
import { DATATYPE_BYTES, DATATYPES, float16ToFloat32, float32ToFloat16, type Datatype } from '@edgeplane/api';
import { checkedElementCount, DEFAULT_MAX_TENSOR_ELEMENTS, isFreeDim, type TensorSpec, type WireTensor } from '../runtime/index.ts';
import { InvalidRequestError, SizeMismatchError } from '../workloads/errors.ts';

export interface JsonTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

type Flat = (number | boolean)[];

/**
 * Row-major elements of flat or nested data, without recursion (a body of nested brackets
 * cannot exhaust the stack): nesting deeper than the tensor's rank, or more elements than
 * `want`, is refused as soon as it is seen.
 */
function flatten(data: unknown[], name: string, rank: number, want: number): Flat {
  const out: Flat = [];
  const stack: { items: unknown[]; at: number }[] = [{ items: data, at: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.at >= top.items.length) {
      stack.pop();
      continue;
    }
    const v = top.items[top.at++];
    if (Array.isArray(v)) {
      if (stack.length >= Math.max(1, rank)) throw new InvalidRequestError(`input ${name} nests its data deeper than its shape's ${rank} dimensions`);
      stack.push({ items: v, at: 0 });
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      if (out.length >= want) throw new SizeMismatchError(name, out.length + 1, want);
      out.push(v);
    } else {
      throw new InvalidRequestError(`input ${name} has a non-numeric element`);
    }
  }
  return out;
}

export function isDatatype(s: string): s is Datatype {
  return (DATATYPES as readonly string[]).includes(s);
}

/** The datatype as the runtime takes it, or a typed refusal naming the input. */
export function datatypeOf(name: string, datatype: unknown): Datatype {
  if (typeof datatype === 'string' && isDatatype(datatype)) return datatype;
  const shown = String(datatype).slice(0, 32);
  if (shown === 'BYTES') throw new InvalidRequestError(`input ${name} has datatype BYTES: the models served here take numeric tensors only (${DATATYPES.join(', ')})`);
  throw new InvalidRequestError(`input ${name} has unknown datatype ${shown}; expected one of ${DATATYPES.join(', ')}`);
}

/** Bytes a raw tensor of this shape and datatype holds; the shape is checked against `maxElements` first. */
export function rawByteLength(name: string, datatype: Datatype, shape: readonly number[], maxElements = DEFAULT_MAX_TENSOR_ELEMENTS): number {
  return checkedElementCount(name, shape, maxElements) * DATATYPE_BYTES[datatype];
}

/**
 * A raw tensor (binary extension, gRPC raw contents): a view of `bytes`, whose length must be
 * what the shape and datatype need. Nothing is allocated from what the shape claims.
 */
export function fromRaw(name: string, datatype: unknown, shape: readonly number[], bytes: Uint8Array, maxElements = DEFAULT_MAX_TENSOR_ELEMENTS): WireTensor {
  const dt = datatypeOf(name, datatype);
  const want = rawByteLength(name, dt, shape, maxElements);
  if (bytes.byteLength !== want) throw new SizeMismatchError(name, bytes.byteLength, want);
  return { name, datatype: dt, shape: [...shape], data: bytes };
}

/** BYTES elements as the protocol's raw form has them: each a 4-byte little-endian length, then its bytes. */
export function encodeBytesElements(elements: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(elements.reduce((n, e) => n + 4 + e.byteLength, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of elements) {
    view.setUint32(at, e.byteLength, true);
    out.set(e, at + 4);
    at += 4 + e.byteLength;
  }
  return out;
}

/** Splits length-prefixed BYTES elements; the count must be `want` and no byte may be left over. */
export function decodeBytesElements(name: string, raw: Uint8Array, want: number): Uint8Array[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < raw.byteLength) {
    if (at + 4 > raw.byteLength) throw new InvalidRequestError(`input ${name}: BYTES element ${out.length} has a truncated length prefix`);
    const len = view.getUint32(at, true);
    if (at + 4 + len > raw.byteLength) throw new InvalidRequestError(`input ${name}: BYTES element ${out.length} claims ${len} bytes, ${raw.byteLength - at - 4} remain`);
    if (out.length >= want) throw new InvalidRequestError(`input ${name} carries more than the ${want} BYTES elements its shape needs`);
    out.push(raw.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (out.length !== want) throw new InvalidRequestError(`input ${name} carries ${out.length} BYTES elements, its shape needs ${want}`);
  return out;
}

/**
 * A JSON tensor as bytes; the element count must match the shape. The shape is checked
 * against `maxElements` before the data is walked or anything is allocated.
 */
export function fromJson(t: JsonTensor, maxElements = DEFAULT_MAX_TENSOR_ELEMENTS): WireTensor {
  const datatype = datatypeOf(t.name, t.datatype);
  if (!Array.isArray(t.shape)) throw new InvalidRequestError(`input ${t.name} has no shape`);
  const want = checkedElementCount(t.name, t.shape, maxElements);
  if (!Array.isArray(t.data)) throw new InvalidRequestError(`input ${t.name} has no data array`);
  const values = flatten(t.data, t.name, t.shape.length, want);
  if (values.length !== want) throw new SizeMismatchError(t.name, values.length, want);
  const nums = values.map(Number);
  let data: ArrayBufferView;
  switch (datatype) {
    case 'FP32':
      data = Float32Array.from(nums);
      break;
    case 'FP16':
      data = Uint16Array.from(nums, float32ToFloat16);
      break;
    case 'INT8':
      data = Int8Array.from(nums);
      break;
    case 'UINT8':
    case 'BOOL':
      data = Uint8Array.from(nums);
      break;
    case 'INT32':
      data = Int32Array.from(nums);
      break;
    case 'INT64':
      data = BigInt64Array.from(nums, (n) => BigInt(Math.trunc(n)));
      break;
  }
  return { name: t.name, datatype, shape: t.shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function toJson(t: WireTensor): { name: string; shape: number[]; datatype: Datatype; data: (number | boolean)[] } {
  // A copy of exactly these bytes (the data may be a view into a larger or pooled buffer).
  const copy = new Uint8Array(t.data).buffer;
  let data: (number | boolean)[];
  switch (t.datatype) {
    case 'FP32':
      data = Array.from(new Float32Array(copy));
      break;
    case 'FP16':
      data = Array.from(new Uint16Array(copy), float16ToFloat32);
      break;
    case 'INT8':
      data = Array.from(new Int8Array(copy));
      break;
    case 'UINT8':
      data = Array.from(new Uint8Array(copy));
      break;
    case 'BOOL':
      data = Array.from(new Uint8Array(copy), (b) => b !== 0);
      break;
    case 'INT32':
      data = Array.from(new Int32Array(copy));
      break;
    case 'INT64':
      data = Array.from(new BigInt64Array(copy), Number);
      break;
  }
  return { name: t.name, shape: t.shape, datatype: t.datatype, data };
}

/** Model metadata shapes: free dimensions as -1, as KServe does. */
export function metadataOf(specs: readonly TensorSpec[]): { name: string; datatype: Datatype; shape: number[] }[] {
  return specs.map((s) => ({ name: s.name, datatype: s.datatype, shape: s.shape.map((d) => (isFreeDim(d) ? -1 : (d as number))) }));
}
