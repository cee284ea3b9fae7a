// The REST inference body, JSON alone or with the binary tensor extension: a JSON header of
// `Inference-Header-Content-Length` bytes, then each input that declares
// `parameters.binary_data_size` as raw bytes, in input order. Outputs come back binary when
// the request asks (`outputs[].parameters.binary_data`, or `parameters.binary_data_output`
// for every output), JSON otherwise. Pure functions over buffers.
import type { WireTensor } from '../runtime/index.ts';
import { InvalidRequestError } from '../workloads/errors.ts';
import { fromJson, fromRaw, toJson } from './kserve.ts';
import type { InferRequest, InferResult } from './oip.ts';

export const HEADER_LENGTH = 'inference-header-content-length';
const MAX_INPUTS = 16;
const MAX_RANK = 8;

export interface RestInferRequest extends InferRequest {
  /** Per output name: whether it goes back as binary. */
  binaryOutputs: Map<string, boolean>;
  /** Every output binary unless named otherwise (`parameters.binary_data_output`). */
  binaryByDefault: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parameters(v: unknown, where: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new InvalidRequestError(`${where}.parameters must be an object`);
  return v;
}

function flag(params: Record<string, unknown>, key: string, where: string): boolean {
  const v = params[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new InvalidRequestError(`${where}.parameters.${key} must be a boolean`);
  return v;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new InvalidRequestError(`request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The request from the body and the `Inference-Header-Content-Length` header (absent: the
 * whole body is JSON). Every field is checked and named when wrong; binary sections must
 * account for every byte after the header.
 */
export function parseRestInfer(body: Uint8Array, headerLength: string | undefined, maxElements?: number): RestInferRequest {
  let jsonEnd = body.byteLength;
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!Number.isSafeInteger(n) || n < 0 || n > body.byteLength) {
      throw new InvalidRequestError(`Inference-Header-Content-Length ${headerLength.slice(0, 32)} must be an integer between 0 and the body's ${body.byteLength} bytes`);
    }
    jsonEnd = n;
  }
  const doc = parseJson(body.subarray(0, jsonEnd));
  if (!isObject(doc)) throw new InvalidRequestError('request body must be a JSON object');
  if (doc.id !== undefined && typeof doc.id !== 'string') throw new InvalidRequestError('id must be a string');
  const top = parameters(doc.parameters, 'request');
  const binaryByDefault = flag(top, 'binary_data_output', 'request');

  if (!Array.isArray(doc.inputs) || doc.inputs.length === 0) throw new InvalidRequestError('inputs must be a non-empty array');
  if (doc.inputs.length > MAX_INPUTS) throw new InvalidRequestError(`inputs has ${doc.inputs.length} tensors, at most ${MAX_INPUTS} are accepted`);
  let at = jsonEnd;
  const inputs: WireTensor[] = doc.inputs.map((raw: unknown, i: number) => {
    const where = `inputs[${i}]`;
    if (!isObject(raw)) throw new InvalidRequestError(`${where} must be an object`);
    const { name, shape, datatype, data } = raw;
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new InvalidRequestError(`${where}.name must be a string of 1 to 256 characters`);
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new InvalidRequestError(`input ${name}: shape must be an array of at most ${MAX_RANK} non-negative integers`);
    }
    if (typeof datatype !== 'string') throw new InvalidRequestError(`input ${name}: datatype must be a string`);
    const size = parameters(raw.parameters, where).binary_data_size;
    if (size !== undefined) {
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw new InvalidRequestError(`input ${name}: parameters.binary_data_size must be a non-negative integer`);
      if (data !== undefined) throw new InvalidRequestError(`input ${name} has both data and parameters.binary_data_size`);
      const end = at + (size as number);
      if (end > body.byteLength) throw new InvalidRequestError(`input ${name}: binary_data_size ${size as number} runs past the end of the body`);
      const t = fromRaw(name, datatype, shape as number[], body.subarray(at, end), maxElements);
      at = end;
      return t;
    }
    if (!Array.isArray(data)) throw new InvalidRequestError(`input ${name}: data must be an array (or parameters.binary_data_size given)`);
    return fromJson({ name, shape: shape as number[], datatype, data }, maxElements);
  });
  if (at !== body.byteLength) throw new InvalidRequestError(`${body.byteLength - at} bytes after the inputs' binary data are not claimed by any input`);

  const binaryOutputs = new Map<string, boolean>();
  let outputs: string[] | undefined;
  if (doc.outputs !== undefined) {
    if (!Array.isArray(doc.outputs)) throw new InvalidRequestError('outputs must be an array');
    outputs = doc.outputs.map((raw: unknown, i: number) => {
      const where = `outputs[${i}]`;
      if (!isObject(raw) || typeof raw.name !== 'string' || raw.name.length === 0) throw new InvalidRequestError(`${where}.name must be a non-empty string`);
      const p = parameters(raw.parameters, where);
      binaryOutputs.set(raw.name, p.binary_data === undefined ? binaryByDefault : flag(p, 'binary_data', where));
      return raw.name;
    });
  }
  return { ...(doc.id !== undefined ? { id: doc.id as string } : {}), inputs, ...(outputs ? { outputs } : {}), binaryOutputs, binaryByDefault };
}

export interface RestBody {
  /** JSON text, or the JSON header followed by binary outputs. */
  body: Buffer;
  /** Set when outputs are binary: the JSON header's byte length. */
  headerLength?: number;
}

/** The response: outputs asked for as binary go after the JSON header, in output order. */
export function encodeRestInfer(result: InferResult, req: Pick<RestInferRequest, 'binaryOutputs' | 'binaryByDefault'>): RestBody {
  const binary: Uint8Array[] = [];
  const outputs = result.outputs.map((o) => {
    if (req.binaryOutputs.get(o.name) ?? req.binaryByDefault) {
      binary.push(o.data);
      return { name: o.name, datatype: o.datatype, shape: o.shape, parameters: { binary_data_size: o.data.byteLength } };
    }
    return toJson(o);
  });
  const header = Buffer.from(JSON.stringify({ ...result, outputs }), 'utf8');
  if (binary.length === 0) return { body: header };
  return { body: Buffer.concat([header, ...binary]), headerLength: header.byteLength };
}
