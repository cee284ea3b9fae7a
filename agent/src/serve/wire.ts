// NATS inference messages: tensor metadata in the `ep-tensors` header, raw little-endian
// bytes concatenated in the same order as the payload. Pure functions, no I/O.
import { TensorList, decode, encode, inferHeaders, type TensorMeta } from '@edgeplane/api';
import { DEFAULT_MAX_TENSOR_ELEMENTS, type WireTensor } from '../runtime/index.ts';
import { rawByteLength } from './kserve.ts';
import { InvalidRequestError, PayloadTooLargeError, SizeMismatchError } from '../workloads/errors.ts';

export interface HeaderReader {
  get(name: string): string;
}

/**
 * Splits a request into tensors; throws a catalogue error naming the problem. Nothing is
 * allocated from what the header claims: each shape is checked against `maxElements`, and
 * the tensors are views into the payload, whose byte length must match exactly.
 */
export function decodeRequest(headers: HeaderReader | undefined, payload: Uint8Array, maxPayloadBytes: number, maxElements = DEFAULT_MAX_TENSOR_ELEMENTS): WireTensor[] {
  if (payload.byteLength > maxPayloadBytes) throw new PayloadTooLargeError(payload.byteLength, maxPayloadBytes);
  const raw = headers?.get(inferHeaders.tensors) ?? '';
  if (raw === '') throw new InvalidRequestError(`missing ${inferHeaders.tensors} header`);
  const meta = decode(TensorList, 'tensor list', raw);
  if (!meta.ok) throw new InvalidRequestError(`bad ${inferHeaders.tensors} header: ${meta.error.message}`, { cause: meta.error });
  const sizes = meta.value.map((m) => rawByteLength(m.name, m.datatype, m.shape, maxElements));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== payload.byteLength) {
    // Name the tensor that runs past the payload, or the last one when bytes are left over.
    let at = 0;
    for (let i = 0; i < meta.value.length; i++) {
      const end = at + sizes[i]!;
      if (end > payload.byteLength || i === meta.value.length - 1) {
        throw new SizeMismatchError(meta.value[i]!.name, Math.max(0, payload.byteLength - at), sizes[i]!);
      }
      at = end;
    }
  }
  let at = 0;
  return meta.value.map((m, i) => {
    const data = payload.subarray(at, at + sizes[i]!);
    at += sizes[i]!;
    return { name: m.name, datatype: m.datatype, shape: [...m.shape], data };
  });
}

/** The `ep-deadline-ms` header: a time budget in ms from receipt; absent or invalid means none. */
export function timeoutOf(headers: HeaderReader | undefined): number | undefined {
  const raw = headers?.get(inferHeaders.deadlineMs) ?? '';
  if (raw === '') return undefined;
  const ms = Number(raw);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

export function encodeOutputs(outputs: readonly WireTensor[]): { tensors: string; payload: Uint8Array } {
  const meta: TensorMeta[] = outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape }));
  const tensors = new TextDecoder().decode(encode(TensorList, 'tensor list', meta));
  const payload = new Uint8Array(outputs.reduce((n, o) => n + o.data.byteLength, 0));
  let at = 0;
  for (const o of outputs) {
    payload.set(o.data, at);
    at += o.data.byteLength;
  }
  return { tensors, payload };
}
