// KServe Open Inference Protocol v2, JSON form: tensors with name, shape, datatype and data
// (flat or nested, row-major). Pure conversions to and from wire tensors.
import { DATATYPES, float16ToFloat32, float32ToFloat16, type Datatype } from '@edgeplane/api';
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

function isDatatype(s: string): s is Datatype {
  return (DATATYPES as readonly string[]).includes(s);
}

/**
 * A JSON tensor as bytes; the element count must match the shape. The shape is checked
 * against `maxElements` before the data is walked or anything is allocated.
 */
export function fromJson(t: JsonTensor, maxElements = DEFAULT_MAX_TENSOR_ELEMENTS): WireTensor {
  if (!isDatatype(t.datatype)) throw new InvalidRequestError(`input ${t.name} has unknown datatype ${String(t.datatype).slice(0, 32)}; expected one of ${DATATYPES.join(', ')}`);
  if (!Array.isArray(t.shape)) throw new InvalidRequestError(`input ${t.name} has no shape`);
  const want = checkedElementCount(t.name, t.shape, maxElements);
  if (!Array.isArray(t.data)) throw new InvalidRequestError(`input ${t.name} has no data array`);
  const values = flatten(t.data, t.name, t.shape.length, want);
  if (values.length !== want) throw new SizeMismatchError(t.name, values.length, want);
  const nums = values.map(Number);
  let data: ArrayBufferView;
  switch (t.datatype) {
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
  return { name: t.name, datatype: t.datatype, shape: t.shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
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
