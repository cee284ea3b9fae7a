// The inference decoders against what a client chooses: the NATS tensor header and payload,
// KServe JSON tensors, and whole HTTP request bodies. Each returns tensors or a catalogue
// error (WorkloadError with a 4xx code), never throws anything else, and never allocates
// from a claimed shape: a header claiming 2^40 elements is refused at once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DATATYPES } from '@edgeplane/api';
import { isWorkloadError, replyError } from '../workloads/errors.ts';
import type { TensorSpec, WireTensor } from '../runtime/index.ts';
import type { ModelRegistry, ServedModel } from './registry.ts';
import { build } from './http.ts';
import { fromJson, type JsonTensor } from './kserve.ts';
import { decodeRequest } from './wire.ts';

const headers = (value: string | undefined) => ({ get: (k: string) => (k === 'ep-tensors' ? (value ?? '') : '') });

/** Runs a decoder: tensors, or a WorkloadError answered 4xx. Anything else fails. */
function refusedOrDecoded(fn: () => WireTensor[] | WireTensor): void {
  try {
    fn();
  } catch (err) {
    expect(isWorkloadError(err), String(err)).toBe(true);
    const status = replyError(err).status;
    expect(status >= 400 && status < 500, `status ${status}`).toBe(true);
  }
}

const shape = fc.array(fc.oneof(fc.nat(8), fc.constantFrom(0, 2 ** 20, 2 ** 31, 2 ** 40, 2 ** 53 - 1), fc.integer()), { maxLength: 9 });
const meta = fc.record({ name: fc.string({ maxLength: 12 }), datatype: fc.oneof(fc.constantFrom(...DATATYPES), fc.string({ maxLength: 6 })), shape });

describe('NATS tensor header and payload (fuzzed)', () => {
  it('arbitrary header text and payload: tensors or a 4xx catalogue error', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 200 })), fc.uint8Array({ maxLength: 256 }), (h, payload) => {
        refusedOrDecoded(() => decodeRequest(headers(h ?? undefined), payload, 1024));
      }),
      { numRuns: 300 },
    );
  });

  it('tensor lists with any shapes and datatypes: views into the payload, never larger than it', () => {
    fc.assert(
      fc.property(fc.array(meta, { maxLength: 4 }), fc.uint8Array({ maxLength: 256 }), (list, payload) => {
        refusedOrDecoded(() => {
          const t = decodeRequest(headers(JSON.stringify(list)), payload, 1024, 4096);
          // Nothing was copied or allocated: every tensor is a view of the payload's buffer.
          for (const x of t) expect(x.data.buffer).toBe(payload.buffer);
          return t;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('a header claiming 2^40 elements over a tiny payload is refused at once', () => {
    const started = performance.now();
    for (const s of [[2 ** 20, 2 ** 20], [0, 2 ** 40], [2 ** 53 - 1], [65536, 65536, 256]]) {
      let err: unknown;
      try {
        decodeRequest(headers(JSON.stringify([{ name: 'x', datatype: 'FP32', shape: s }])), new Uint8Array(16), 1024);
      } catch (e) {
        err = e;
      }
      expect(replyError(err)).toMatchObject({ status: 413, code: 'TENSOR_TOO_LARGE' });
    }
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('KServe JSON tensors (fuzzed)', () => {
  const data = fc.jsonValue({ maxDepth: 4 }).map((v) => (Array.isArray(v) ? v : [v]));
  it('arbitrary JSON tensors: bytes or a 4xx catalogue error', () => {
    fc.assert(
      fc.property(meta, data, (m, d) => {
        refusedOrDecoded(() => fromJson({ ...m, data: d } as JsonTensor, 4096));
      }),
      { numRuns: 400 },
    );
  });

  it('a million-element body, 100,000-deep nesting and a 2^40 shape are refused quickly', () => {
    const million = Array.from({ length: 2 ** 20 }, () => 1);
    let deep: unknown[] = [1];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const started = performance.now();
    for (const t of [
      { name: 'x', shape: [2 ** 10], datatype: 'FP32', data: million },
      { name: 'x', shape: [1, 1, 1], datatype: 'FP32', data: deep },
      { name: 'x', shape: [2 ** 20, 2 ** 20], datatype: 'FP32', data: [1] },
    ]) {
      refusedOrDecoded(() => fromJson(t, 2 ** 24));
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('KServe HTTP bodies (fuzzed)', () => {
  const spec: TensorSpec = { name: 'X', datatype: 'FP32', shape: [-1, 4] };
  const model: ServedModel = {
    key: 'vision/tiny',
    assignment: { deployment: 'tiny', variant: { name: 'fp32' } } as ServedModel['assignment'],
    phase: 'Ready',
    ready: true,
    inputs: [spec],
    outputs: [spec],
    // Echoes the decoded inputs: what is under test is the decoding in front of it.
    infer: async (tensors) => tensors.map((t) => ({ ...t })),
  };
  const registry: ModelRegistry = { model: (n) => (n === 'tiny' ? model : null), models: () => [model] };
  const app = build({ registry, bodyLimitBytes: 64 * 1024, maxTensorElements: 4096 });

  it('arbitrary bodies: 200, or 4xx with {error, code}; never a 5xx', async () => {
    const body = fc.oneof(
      fc.json({ maxDepth: 5 }),
      fc.record({ inputs: fc.array(fc.record({ name: fc.constantFrom('X', 'Y'), shape, datatype: fc.constantFrom('FP32', 'INT64', 'BOOL', 'X'), data: fc.jsonValue({ maxDepth: 3 }) }), { maxLength: 3 }) }).map((b) => JSON.stringify(b)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const r = await app.inject({ method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/json' }, payload });
        expect(r.statusCode, r.body).toBeLessThan(500);
        if (r.statusCode >= 400) expect(r.json()).toMatchObject({ error: expect.any(String), code: expect.any(String) });
      }),
      { numRuns: 150 },
    );
  });

  it('a megabyte body is answered 413 before it is parsed', async () => {
    const payload = `{"inputs":[{"name":"X","shape":[1,4],"datatype":"FP32","data":[${'1,'.repeat(2 ** 19)}1]}]}`;
    const r = await app.inject({ method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/json' }, payload });
    expect(r.statusCode).toBe(413);
    expect(r.json().code).toBe('PAYLOAD_TOO_LARGE');
  });
});
