// Tensors as they travel (name, KServe datatype, shape, little-endian bytes), checked
// against a model's inputs, and joined into or split out of a batch along the first axis.
import { DATATYPE_BYTES, type Datatype } from '@edgeplane/api';
import { DatatypeMismatchError, InvalidRequestError, ShapeMismatchError, SizeMismatchError, TensorTooLargeError } from '../workloads/errors.ts';

export interface WireTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: Uint8Array;
}

/** A model input or output as the session describes it; a string or negative dim is free. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: (number | string)[];
}

const ORT_TO_DATATYPE: Record<string, Datatype> = {
  float32: 'FP32',
  float16: 'FP16',
  int8: 'INT8',
  uint8: 'UINT8',
  int32: 'INT32',
  int64: 'INT64',
  bool: 'BOOL',
};
const DATATYPE_TO_ORT = Object.fromEntries(Object.entries(ORT_TO_DATATYPE).map(([k, v]) => [v, k])) as Record<Datatype, string>;

export function datatypeOfOrt(type: string): Datatype | null {
  return ORT_TO_DATATYPE[type] ?? null;
}

export function ortTypeOf(datatype: Datatype): string {
  return DATATYPE_TO_ORT[datatype];
}

export const isFreeDim = (d: number | string): boolean => typeof d === 'string' || d < 0;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Default of the agent's `maxTensorElements`: 16 Mi elements (64 MiB of FP32). */
export const DEFAULT_MAX_TENSOR_ELEMENTS = 2 ** 24;

/**
 * The element count a request's shape claims, refused with TensorTooLargeError when it (or
 * any one dimension) is over `maxElements`, and with InvalidRequestError when a dimension is
 * not a non-negative integer. Called on every decoded request before anything is allocated
 * or a size is trusted, so a shape claiming 2^40 elements costs nothing.
 */
export function checkedElementCount(name: string, shape: readonly number[], maxElements = DEFAULT_MAX_TENSOR_ELEMENTS): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new InvalidRequestError(`input ${name} has shape [${shape.join(',')}]: each dimension must be a non-negative integer`);
    // Each dimension too, so [0, 2^40] (zero elements) cannot slip a huge axis through.
    if (d > maxElements) throw new TensorTooLargeError(name, shape, maxElements);
    n *= d;
    if (n > maxElements) throw new TensorTooLargeError(name, shape, maxElements);
  }
  return n;
}

export function byteSize(t: { datatype: Datatype; shape: readonly number[] }): number {
  return elementCount(t.shape) * DATATYPE_BYTES[t.datatype];
}

/** True when every tensor's first axis is free, so requests can be stacked into a batch. */
export function batchable(specs: readonly TensorSpec[]): boolean {
  return specs.length > 0 && specs.every((s) => s.shape.length > 0 && isFreeDim(s.shape[0]!));
}

/**
 * Checks a request against the model's inputs: every input present once, its datatype,
 * rank and fixed dims, and its byte length; also that batched inputs agree on the batch size.
 * Returns the inputs in the model's order.
 */
export function checkInputs(specs: readonly TensorSpec[], tensors: readonly WireTensor[]): WireTensor[] {
  const byName = new Map<string, WireTensor>();
  for (const t of tensors) {
    if (byName.has(t.name)) throw new InvalidRequestError(`input ${t.name} appears twice`);
    if (!specs.some((s) => s.name === t.name)) {
      throw new InvalidRequestError(`unknown input ${t.name}; the model's inputs are ${specs.map((s) => s.name).join(', ')}`);
    }
    byName.set(t.name, t);
  }
  const ordered: WireTensor[] = [];
  let rows: number | null = null;
  for (const spec of specs) {
    const t = byName.get(spec.name);
    if (!t) throw new InvalidRequestError(`missing input ${spec.name}`);
    if (t.datatype !== spec.datatype) throw new DatatypeMismatchError(t.name, t.datatype, spec.datatype);
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => !Number.isInteger(d) || d < 0 || (!isFreeDim(spec.shape[i]!) && d !== spec.shape[i]))) {
      throw new ShapeMismatchError(t.name, t.shape, spec.shape);
    }
    const want = byteSize(t);
    if (t.data.byteLength !== want) throw new SizeMismatchError(t.name, t.data.byteLength, want);
    if (batchable(specs)) {
      const r = t.shape[0]!;
      if (rows !== null && r !== rows) throw new ShapeMismatchError(t.name, t.shape, [rows, ...spec.shape.slice(1)]);
      rows = r;
    }
    ordered.push(t);
  }
  return ordered;
}

/** Stacks requests (each a list of inputs in model order) along the first axis. */
export function concatBatch(requests: readonly WireTensor[][]): WireTensor[] {
  const first = requests[0];
  if (!first) return [];
  if (requests.length === 1) return first;
  return first.map((t, i) => {
    const parts = requests.map((r) => r[i]!);
    const rows = parts.reduce((n, p) => n + (p.shape[0] ?? 0), 0);
    const data = new Uint8Array(parts.reduce((n, p) => n + p.data.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p.data, at);
      at += p.data.byteLength;
    }
    return { name: t.name, datatype: t.datatype, shape: [rows, ...t.shape.slice(1)], data };
  });
}

/** Splits batched outputs back into one list per request, by each request's rows. */
export function splitBatch(outputs: readonly WireTensor[], rowsPerRequest: readonly number[]): WireTensor[][] {
  if (rowsPerRequest.length === 1) return [outputs.slice()];
  const result: WireTensor[][] = rowsPerRequest.map(() => []);
  for (const out of outputs) {
    const total = out.shape[0] ?? 0;
    const rowBytes = total > 0 ? out.data.byteLength / total : 0;
    let row = 0;
    rowsPerRequest.forEach((rows, i) => {
      result[i]!.push({
        name: out.name,
        datatype: out.datatype,
        shape: [rows, ...out.shape.slice(1)],
        data: out.data.subarray(row * rowBytes, (row + rows) * rowBytes),
      });
      row += rows;
    });
  }
  return result;
}
