import { mkdtempSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CPU, assignment, workload, writeVariant } from '../workloads/fixtures/assignments.ts';
import { createWorkloadManager, type WorkloadManagerImpl } from '../workloads/manager.ts';
import { build } from './http.ts';

let dir: string;
let manager: WorkloadManagerImpl;
let app: FastifyInstance;
let expected: (row: number[]) => number[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ep-http-'));
  const { variant, model } = writeVariant(dir, 'fp32');
  expected = model.expected;
  manager = await createWorkloadManager({ accelerators: [CPU], cacheDir: join(dir, 'cache'), cacheMaxBytes: 1e7, fileRoots: [dir] });
  app = build({ registry: manager, bodyLimitBytes: 4096, maxTensorElements: 1024 });
  // Ready is false while the model loads.
  await manager.apply(assignment([workload(variant)]));
  const loading = await app.inject({ method: 'GET', url: '/v2/health/ready' });
  expect(loading.statusCode).toBe(503);
  await manager.settled();
});
afterAll(async () => {
  await app.close();
  await manager.close();
  rmSync(dir, { recursive: true, force: true });
});

const infer = (body: unknown, name = 'tiny') => app.inject({ method: 'POST', url: `/v2/models/${name}/infer`, payload: body as object });

describe('KServe v2 REST', () => {
  it('answers liveness and readiness', async () => {
    expect((await app.inject({ method: 'GET', url: '/v2/health/live' })).json()).toEqual({ live: true });
    const ready = await app.inject({ method: 'GET', url: '/v2/health/ready' });
    expect([ready.statusCode, ready.json()]).toEqual([200, { ready: true }]);
    const model = await app.inject({ method: 'GET', url: '/v2/models/tiny/ready' });
    expect([model.statusCode, model.json()]).toEqual([200, { name: 'tiny', ready: true }]);
  });

  it('describes the model with free dimensions as -1', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2/models/tiny' });
    expect(r.json()).toEqual({
      name: 'tiny',
      versions: ['fp32'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'X', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'Y', datatype: 'FP32', shape: [-1, 3] }],
    });
  });

  it('infers, by deployment name or namespace/deployment', async () => {
    const body = { id: 'r1', inputs: [{ name: 'X', shape: [2, 4], datatype: 'FP32', data: [[1, 2, 0.5, -1], [0, 0, 0, 1]] }] };
    for (const name of ['tiny', 'vision.tiny']) {
      const r = await infer(body, name);
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({
        model_name: 'tiny',
        model_version: 'fp32',
        id: 'r1',
        outputs: [{ name: 'Y', shape: [2, 3], datatype: 'FP32', data: [...expected([1, 2, 0.5, -1]), ...expected([0, 0, 0, 1])] }],
      });
    }
  });

  const bad: { name: string; body: unknown; url?: string; status: number; code: string }[] = [
    { name: 'wrong datatype', body: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'INT32', data: [1, 2, 3, 4] }] }, status: 400, code: 'INVALID_DATATYPE' },
    { name: 'wrong shape', body: { inputs: [{ name: 'X', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }] }, status: 400, code: 'INVALID_SHAPE' },
    { name: 'wrong size', body: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3] }] }, status: 400, code: 'INVALID_SIZE' },
    { name: 'unknown input', body: { inputs: [{ name: 'Z', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'no inputs', body: { inputs: [] }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'over the body limit', body: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: Array.from({ length: 2000 }, () => 1.5) }] }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
    { name: 'a shape claiming 2^40 elements', body: { inputs: [{ name: 'X', shape: [2 ** 20, 2 ** 20], datatype: 'FP32', data: [1] }] }, status: 413, code: 'TENSOR_TOO_LARGE' },
    { name: 'a huge axis beside a zero one', body: { inputs: [{ name: 'X', shape: [0, 2 ** 40], datatype: 'FP32', data: [] }] }, status: 413, code: 'TENSOR_TOO_LARGE' },
    { name: 'more elements than the configured maximum', body: { inputs: [{ name: 'X', shape: [300, 4], datatype: 'FP32', data: [1] }] }, status: 413, code: 'TENSOR_TOO_LARGE' },
    { name: 'data nested deeper than the shape', body: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: [[[1, 2, 3, 4]]] }] }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'more data than the shape', body: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] }, status: 400, code: 'INVALID_SIZE' },
    { name: 'unknown model', body: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, url: 'nope', status: 404, code: 'MODEL_NOT_FOUND' },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} with ${c.status} ${c.code}`, async () => {
      const r = await infer(c.body, c.url);
      expect(r.statusCode).toBe(c.status);
      expect(r.json().code).toBe(c.code);
      expect(typeof r.json().error).toBe('string');
    });
  }
});

describe('Open Inference Protocol REST: metadata, versions, content types and the binary extension', () => {
  const row = [1, 2, 0.5, -1];
  const f32 = (v: number[]) => Buffer.from(new Float32Array(v).buffer);

  it('answers server metadata at /v2 with the binary extension listed', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ name: 'edgeplane-agent', extensions: ['binary_tensor_data', 'model_configuration'] });
  });

  it('answers Triton model configuration: the batch dimension left out of dims', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2/models/tiny/versions/fp32/config' });
    expect(r.json()).toEqual({
      name: 'tiny',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 4,
      input: [{ name: 'X', data_type: 'TYPE_FP32', dims: [4] }],
      output: [{ name: 'Y', data_type: 'TYPE_FP32', dims: [3] }],
    });
    expect((await app.inject({ method: 'GET', url: '/v2/models/nope/config' })).statusCode).toBe(404);
  });

  it('serves every model route under /versions/{version} too, and 404s another version', async () => {
    expect((await app.inject({ method: 'GET', url: '/v2/models/tiny/versions/fp32' })).json()).toMatchObject({ name: 'tiny', versions: ['fp32'] });
    expect((await app.inject({ method: 'GET', url: '/v2/models/tiny/versions/fp32/ready' })).statusCode).toBe(200);
    const ok = await app.inject({ method: 'POST', url: '/v2/models/tiny/versions/fp32/infer', payload: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: row }] } });
    expect(ok.statusCode).toBe(200);
    const other = await app.inject({ method: 'GET', url: '/v2/models/tiny/versions/int8/ready' });
    expect([other.statusCode, other.json().code]).toEqual([404, 'MODEL_NOT_FOUND']);
  });

  for (const contentType of [undefined, 'application/octet-stream', 'text/plain']) {
    it(`takes a JSON body sent with content type ${contentType ?? '(none)'}`, async () => {
      const r = await app.inject({
        method: 'POST',
        url: '/v2/models/tiny/infer',
        headers: contentType ? { 'content-type': contentType } : {},
        payload: JSON.stringify({ inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: row }] }),
      });
      expect(r.statusCode).toBe(200);
      expect(r.json().outputs[0].data).toEqual(expected(row));
    });
  }

  it('reads binary inputs and answers binary outputs when asked', async () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'X', shape: [2, 4], datatype: 'FP32', parameters: { binary_data_size: 32 } }], outputs: [{ name: 'Y', parameters: { binary_data: true } }] }));
    const r = await app.inject({
      method: 'POST',
      url: '/v2/models/tiny/infer',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) },
      payload: Buffer.concat([header, f32([...row, 0, 0, 0, 1])]),
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    const n = Number(r.headers['inference-header-content-length']);
    const json = JSON.parse(r.rawPayload.subarray(0, n).toString());
    expect(json.outputs).toEqual([{ name: 'Y', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }]);
    const y = r.rawPayload.subarray(n);
    const values = Array.from(new Float32Array(y.buffer.slice(y.byteOffset, y.byteOffset + y.byteLength)));
    const want = [...expected(row), ...expected([0, 0, 0, 1])];
    values.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });

  it('answers every output binary with parameters.binary_data_output', async () => {
    const r = await app.inject({ method: 'POST', url: '/v2/models/tiny/infer', payload: { parameters: { binary_data_output: true }, inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: row }] } });
    expect(r.statusCode).toBe(200);
    expect(r.rawPayload.byteLength - Number(r.headers['inference-header-content-length'])).toBe(12);
  });

  const badBinary: { name: string; header: string | undefined; json: object; tail: Buffer; code: string }[] = [
    { name: 'binary data shorter than declared', header: 'auto', json: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }, tail: Buffer.alloc(12), code: 'INVALID_REQUEST' },
    { name: 'a size that does not fit the shape', header: 'auto', json: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 12 } }] }, tail: Buffer.alloc(12), code: 'INVALID_SIZE' },
    { name: 'bytes nobody claims', header: 'auto', json: { inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }, tail: Buffer.alloc(20), code: 'INVALID_REQUEST' },
    { name: 'a header length past the body', header: '9999', json: { inputs: [] }, tail: Buffer.alloc(0), code: 'INVALID_REQUEST' },
    { name: 'BYTES inputs', header: 'auto', json: { inputs: [{ name: 'X', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 5 } }] }, tail: Buffer.from([1, 0, 0, 0, 65]), code: 'INVALID_REQUEST' },
  ];
  for (const c of badBinary) {
    it(`refuses ${c.name} with 400`, async () => {
      const json = Buffer.from(JSON.stringify(c.json));
      const r = await app.inject({
        method: 'POST',
        url: '/v2/models/tiny/infer',
        headers: { 'inference-header-content-length': c.header === 'auto' ? String(json.byteLength) : c.header! },
        payload: Buffer.concat([json, c.tail]),
      });
      expect([r.statusCode, r.json().code]).toEqual([400, c.code]);
      expect(typeof r.json().error).toBe('string');
    });
  }
});

describe('KServe v2 REST: bodies past the limit', () => {
  it('answers 413 with an error body to a chunked body that declares no length', async () => {
    const big = JSON.stringify({ inputs: [{ name: 'X', shape: [1, 4], datatype: 'FP32', data: Array.from({ length: 4000 }, () => 1.5) }] });
    const r = await app.inject({ method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/json' }, payload: Readable.from([big.slice(0, 3000), big.slice(3000)]) });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', error: expect.stringMatching(/over the limit of 4096 bytes/) });
  });

  it('data nested 2000 deep is refused, not walked recursively', async () => {
    const deep = `${'['.repeat(2000)}1${']'.repeat(2000)}`;
    const r = await app.inject({ method: 'POST', url: '/v2/models/tiny/infer', headers: { 'content-type': 'application/json' }, payload: `{"inputs":[{"name":"X","shape":[1,4],"datatype":"FP32","data":${deep}}]}` });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('INVALID_REQUEST');
  });
});
