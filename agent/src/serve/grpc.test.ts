import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { fromJSON, loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from '@edgeplane/api';
import { CPU, assignment, workload, writeVariant } from '../workloads/fixtures/assignments.ts';
import { createWorkloadManager, type WorkloadManagerImpl } from '../workloads/manager.ts';
import { OPEN_INFERENCE_DESCRIPTOR } from './grpc-descriptor.ts';
import { defaultGrpcAddress, listenGrpc, type GrpcServing } from './grpc.ts';

const PROTO = join(dirname(fileURLToPath(import.meta.url)), 'proto', 'open_inference_grpc.proto');
const OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

/** Every message and method of a package definition, reduced to what the wire depends on. */
function wireShape(def: ReturnType<typeof loadSync>): unknown {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(def)) {
    if ('format' in v) {
      // A message lists fields; an enum lists values.
      const type = (v as { type: { field?: { name: string; number: number; type: string; label: string; typeName: string }[]; value?: { name: string; number: number }[] } }).type;
      out[name] = type.field ? type.field.map((f) => [f.name, f.number, f.type, f.label, f.typeName]) : type.value?.map((e) => [e.name, e.number]);
    } else {
      out[name] = Object.entries(v as Record<string, { path: string; requestType: { type: { name: string } } }>).map(([m, d]) => [m, d.path, d.requestType.type.name]);
    }
  }
  return out;
}

describe('gRPC schema', () => {
  it('the embedded descriptor is the .proto file, field by field', () => {
    const embedded = fromJSON(OPEN_INFERENCE_DESCRIPTOR as unknown as Parameters<typeof fromJSON>[0], OPTIONS);
    expect(wireShape(embedded)).toEqual(wireShape(loadSync(PROTO, OPTIONS)));
    expect(Object.keys(embedded)).toContain('inference.GRPCInferenceService');
  });
});

describe('gRPC address', () => {
  it('defaults beside HTTP: its port + 1, or a free port when HTTP takes one', () => {
    expect(defaultGrpcAddress({ host: '127.0.0.1', port: 8080 })).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(defaultGrpcAddress({ host: '::1', port: 0 })).toEqual({ host: '::1', port: 0 });
    expect(defaultGrpcAddress({ host: '0.0.0.0', port: 65535 })).toEqual({ host: '0.0.0.0', port: 0 });
  });
});

type Unary = (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void;

let dir: string;
let manager: WorkloadManagerImpl;
let server: GrpcServing;
let client: grpc.Client & Record<string, Unary>;
let expected: (row: number[]) => number[];
const TOKEN = 'a-token-of-sixteen-plus';

const call = (rpc: string, req: object, token: string | null = TOKEN): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    client[rpc]!.call(client, req, md, (err, res) => (err ? reject(err) : resolve(res)));
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ep-grpc-'));
  const { variant, model } = writeVariant(dir, 'fp32');
  expected = model.expected;
  manager = await createWorkloadManager({ accelerators: [CPU], cacheDir: join(dir, 'cache'), cacheMaxBytes: 1e7, fileRoots: [dir] });
  await manager.apply(assignment([workload(variant)]));
  await manager.settled();
  server = await listenGrpc({ registry: manager, host: '127.0.0.1', port: 0, maxTensorElements: 1024, bearerToken: TOKEN });
  const pkg = grpc.loadPackageDefinition(loadSync(PROTO, OPTIONS)) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
});
afterAll(async () => {
  client?.close();
  await server?.close();
  await manager?.close();
  rmSync(dir, { recursive: true, force: true });
});

const f32 = (v: number[]) => Buffer.from(new Float32Array(v).buffer);
const floats = (b: Buffer) => Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

describe('Open Inference Protocol over gRPC', () => {
  it('answers health and metadata', async () => {
    expect(await call('ServerLive', {}, null)).toEqual({ live: true });
    expect(await call('ServerReady', {}, null)).toEqual({ ready: true });
    expect(await call('ModelReady', { name: 'tiny', version: 'fp32' })).toEqual({ ready: true });
    expect(await call('ServerMetadata', {})).toMatchObject({ name: 'edgeplane-agent', extensions: ['binary_tensor_data', 'model_configuration'] });
    expect(await call('ModelConfig', { name: 'tiny' })).toMatchObject({
      config: { name: 'tiny', max_batch_size: 4, input: [{ name: 'X', data_type: 'TYPE_FP32', dims: [4] }], output: [{ name: 'Y', data_type: 'TYPE_FP32', dims: [3] }] },
    });
    expect(await call('ModelMetadata', { name: 'tiny' })).toMatchObject({ name: 'tiny', versions: ['fp32'], platform: 'onnxruntime_onnx', inputs: [{ name: 'X', datatype: 'FP32', shape: [-1, 4] }] });
  });

  it('infers from raw contents and answers raw contents', async () => {
    const rows = [[1, 2, 0.5, -1], [0, 0, 0, 1]];
    const res = await call('ModelInfer', { model_name: 'tiny', id: 'g1', inputs: [{ name: 'X', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [f32(rows.flat())] });
    expect(res).toMatchObject({ model_name: 'tiny', model_version: 'fp32', id: 'g1', outputs: [{ name: 'Y', datatype: 'FP32', shape: [2, 3] }] });
    const got = floats((res.raw_output_contents as Buffer[])[0]!);
    rows.flatMap(expected).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
  });

  it('infers from typed contents', async () => {
    const res = await call('ModelInfer', { model_name: 'tiny', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 0.5, -1] } }] });
    floats((res.raw_output_contents as Buffer[])[0]!).forEach((v, i) => expect(v).toBeCloseTo(expected([1, 2, 0.5, -1])[i]!, 5));
  });

  const refused: { name: string; req: object; code: grpc.status; token?: string | null }[] = [
    { name: 'an unknown model', req: { model_name: 'nope', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32([1, 2, 3, 4])] }, code: grpc.status.NOT_FOUND },
    { name: 'a wrong shape', req: { model_name: 'tiny', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 5] }], raw_input_contents: [f32([1, 2, 3, 4, 5])] }, code: grpc.status.INVALID_ARGUMENT },
    { name: 'raw bytes that do not fit the shape', req: { model_name: 'tiny', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32([1, 2, 3])] }, code: grpc.status.INVALID_ARGUMENT },
    { name: 'FP16 as typed contents', req: { model_name: 'tiny', inputs: [{ name: 'X', datatype: 'FP16', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] }, code: grpc.status.INVALID_ARGUMENT },
    { name: 'an unknown version', req: { model_name: 'tiny', model_version: 'int8', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32([1, 2, 3, 4])] }, code: grpc.status.NOT_FOUND },
    { name: 'no token', req: { model_name: 'tiny', inputs: [] }, code: grpc.status.UNAUTHENTICATED, token: null },
    { name: 'another token', req: { model_name: 'tiny', inputs: [] }, code: grpc.status.UNAUTHENTICATED, token: 'not-the-token-at-all' },
  ];
  for (const c of refused) {
    it(`refuses ${c.name} with ${grpc.status[c.code]}`, async () => {
      await expect(call('ModelInfer', c.req, c.token === undefined ? TOKEN : c.token)).rejects.toMatchObject({ code: c.code, details: expect.any(String) });
    });
  }

  it('refuses to listen on a port another server holds (the caller decides whether that is fatal)', async () => {
    await expect(listenGrpc({ registry: manager, host: '127.0.0.1', port: server.port })).rejects.toThrow();
  });

  it("marks an escalating workload's answer in string parameters, with the answering tier's node and variant", async () => {
    const answer = { outputs: [{ name: 'Y', datatype: 'FP32' as const, shape: [1, 2], data: new Uint8Array(8) }], escalation: { tier: 'escalated' as const, outcome: 'answered' as const, node: 'big-1', variant: 'fp32' } };
    const model = {
      key: 'ns/small',
      assignment: { ...workload(writeVariant(dir, 'int8', 'int8').variant), key: 'ns/small', namespace: 'ns', deployment: 'small' },
      phase: 'Ready' as const,
      ready: true,
      inputs: [],
      outputs: [],
      infer: async () => answer.outputs,
      answer: async () => answer,
    };
    const marked = await listenGrpc({ registry: { model: () => model, models: () => [model] }, host: '127.0.0.1', port: 0 });
    const pkg = grpc.loadPackageDefinition(loadSync(PROTO, OPTIONS)) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const c = new pkg.inference.GRPCInferenceService(`127.0.0.1:${marked.port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
    try {
      const res = await new Promise<Record<string, unknown>>((resolve, reject) =>
        c.ModelInfer!.call(c, { model_name: 'small', inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32([1, 2, 3, 4])] }, new grpc.Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
      );
      expect(res.model_version).toBe('fp32');
      expect(res.parameters).toEqual({
        'ep-tier': { string_param: 'escalated', parameter_choice: 'string_param' },
        'ep-escalation': { string_param: 'answered', parameter_choice: 'string_param' },
        'ep-node': { string_param: 'big-1', parameter_choice: 'string_param' },
      });
    } finally {
      c.close();
      await marked.close();
    }
  });

  it('takes FP16 as raw contents (the model wants FP32: refused with INVALID_ARGUMENT naming the datatype)', async () => {
    const half = Buffer.from(Uint16Array.from([1, 2, 0.5, -1], float32ToFloat16).buffer);
    expect(float16ToFloat32(half.readUInt16LE(0))).toBe(1);
    await expect(call('ModelInfer', { model_name: 'tiny', inputs: [{ name: 'X', datatype: 'FP16', shape: [1, 4] }], raw_input_contents: [half] })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/FP16.*FP32/),
    });
  });
});
