// The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`), on its own port.
// Every RPC answers from the same operations as REST (oip.ts) and decodes tensors with the
// same codec (kserve.ts): raw contents as the binary extension's bytes, typed contents as
// JSON data. Outputs always go back as raw contents, which every client reads (and FP16 has
// no typed form). Failures carry the gRPC code matching the catalogue's HTTP status.
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { WireTensor } from '../runtime/index.ts';
import { InvalidRequestError, replyError, UnauthenticatedError } from '../workloads/errors.ts';
import { OPEN_INFERENCE_DESCRIPTOR } from './grpc-descriptor.ts';
import { tokenMatches } from './http-auth.ts';
import { fromJson, fromRaw } from './kserve.ts';
import { infer, modelConfig, modelMetadata, modelReady, serverMetadata, serverReady } from './oip.ts';
import type { ConnectionSink } from './lazy-listen.ts';
import type { ModelRegistry } from './registry.ts';

export { defaultGrpcAddress } from './endpoints.ts';

export interface GrpcServiceOptions {
  registry: ModelRegistry;
  /** Largest request message, bytes (default 8 MiB). */
  maxRequestBytes?: number;
  maxTensorElements?: number;
  /** When set, every RPC but ServerLive and ServerReady needs `authorization: Bearer <this>`. */
  bearerToken?: string;
  logger?: Logger;
}

export interface GrpcOptions extends GrpcServiceOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

export interface GrpcServing {
  port: number;
  close(): Promise<void>;
}

/** Field names as the .proto spells them; int64 as numbers; absent repeated fields as []. */
const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;
/** protobufjs's own JSON form; its declared type wants a `comment` on every method, which its toJSON leaves out. */
type ProtoNamespace = Parameters<typeof fromJSON>[0];
const OPEN_RPCS: ReadonlySet<string> = new Set(['ServerLive', 'ServerReady']);

interface InferParameter {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  double_param?: number;
  uint64_param?: number;
}
interface Contents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: number[];
  uint_contents: number[];
  uint64_contents: number[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}
interface InputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters: Record<string, InferParameter>;
  contents: Contents | null;
}
interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameter>;
  inputs: InputTensor[];
  outputs: { name: string }[];
  raw_input_contents: Buffer[];
}

const statusOf = (http: number): grpc.status => {
  switch (http) {
    case 400:
      return grpc.status.INVALID_ARGUMENT;
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.NOT_FOUND;
    case 413:
    case 507:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 503:
      return grpc.status.UNAVAILABLE;
    case 504:
      return grpc.status.DEADLINE_EXCEEDED;
    default:
      return grpc.status.INTERNAL;
  }
};

/** The typed contents matching a datatype, as JSON data for the shared codec. */
function contentsData(t: InputTensor): unknown[] {
  const c = t.contents!;
  switch (t.datatype) {
    case 'FP32':
      return c.fp32_contents;
    case 'INT8':
    case 'INT32':
      return c.int_contents;
    case 'INT64':
      return c.int64_contents;
    case 'UINT8':
      return c.uint_contents;
    case 'BOOL':
      return c.bool_contents;
    case 'FP16':
      throw new InvalidRequestError(`input ${t.name}: FP16 has no typed contents; send it in raw_input_contents`);
    default:
      return [];
  }
}

/** The request's tensors: raw contents (one per input, in order) or each input's typed contents. */
export function decodeGrpcInputs(req: ModelInferRequest, maxElements?: number): WireTensor[] {
  if (req.inputs.length === 0) throw new InvalidRequestError('inputs must not be empty');
  const raw = req.raw_input_contents;
  if (raw.length > 0 && raw.length !== req.inputs.length) {
    throw new InvalidRequestError(`raw_input_contents has ${raw.length} entries for ${req.inputs.length} inputs`);
  }
  return req.inputs.map((t, i) => {
    if (raw.length > 0) {
      if (t.contents) throw new InvalidRequestError(`input ${t.name} has contents besides raw_input_contents`);
      return fromRaw(t.name, t.datatype, t.shape, new Uint8Array(raw[i]!.buffer, raw[i]!.byteOffset, raw[i]!.byteLength), maxElements);
    }
    if (!t.contents) throw new InvalidRequestError(`input ${t.name} has neither contents nor raw_input_contents`);
    return fromJson({ name: t.name, datatype: t.datatype, shape: t.shape, data: contentsData(t) }, maxElements);
  });
}

function deadlineMs(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  const at = d instanceof Date ? d.getTime() : d;
  if (!Number.isFinite(at)) return undefined;
  return Math.max(1, at - Date.now());
}

/** The server with every RPC added, not yet bound to any port. */
function buildGrpc(options: GrpcServiceOptions): grpc.Server {
  const { registry } = options;
  const log = options.logger?.child({ component: 'grpc' });
  const maxBytes = options.maxRequestBytes ?? 8 * 1024 * 1024;
  const expected = options.bearerToken ? createHash('sha256').update(options.bearerToken).digest() : null;
  const pkg = grpc.loadPackageDefinition(fromJSON(OPEN_INFERENCE_DESCRIPTOR as unknown as ProtoNamespace, LOADER_OPTIONS)) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
  };

  // Each RPC: authentication, then the operation; any failure becomes a status with the catalogue's message.
  const unary =
    <Req, Res>(rpc: string, op: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      void (async () => {
        if (expected && !OPEN_RPCS.has(rpc)) {
          const header = call.metadata.get('authorization')[0];
          const m = typeof header === 'string' ? /^Bearer +(\S+)\s*$/i.exec(header) : null;
          if (!m) throw new UnauthenticatedError('this endpoint needs authorization: Bearer <token> metadata');
          if (!tokenMatches(m[1]!, expected)) throw new UnauthenticatedError('the bearer token is not the one this endpoint accepts');
        }
        return op(call.request, call);
      })().then(
        (res) => callback(null, res),
        (err: unknown) => {
          const e = replyError(err);
          if (e.status >= 500 && e.status !== 503) log?.warn({ err, rpc, code: e.code }, 'gRPC inference request failed');
          const metadata = new grpc.Metadata();
          metadata.set('ep-error-code', e.code);
          callback({ code: statusOf(e.status), details: e.message.replace(/[\r\n]+/g, ' '), metadata });
        },
      );
    };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': maxBytes, 'grpc.max_send_message_length': -1 });
  server.addService(pkg.inference.GRPCInferenceService.service, {
    ServerLive: unary('ServerLive', () => ({ live: true })),
    ServerReady: unary('ServerReady', () => ({ ready: serverReady(registry) })),
    ServerMetadata: unary('ServerMetadata', () => serverMetadata()),
    ModelReady: unary('ModelReady', (req: { name: string; version: string }) => ({ ready: modelReady(registry, req.name, req.version).ready })),
    ModelMetadata: unary('ModelMetadata', (req: { name: string; version: string }) => modelMetadata(registry, req.name, req.version)),
    ModelConfig: unary('ModelConfig', (req: { name: string; version: string }) => ({ config: modelConfig(registry, req.name, req.version) })),
    ModelInfer: unary('ModelInfer', async (req: ModelInferRequest, call) => {
      const inputs = decodeGrpcInputs(req, options.maxTensorElements);
      const timeoutMs = deadlineMs(call);
      const result = await infer(registry, req.model_name, req.model_version, {
        ...(req.id !== '' ? { id: req.id } : {}),
        inputs,
        ...(req.outputs.length > 0 ? { outputs: req.outputs.map((o) => o.name) } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
      return {
        model_name: result.model_name,
        model_version: result.model_version,
        id: result.id ?? '',
        // An escalating workload's marks (ep-tier, ep-escalation, ep-node), as string parameters.
        ...(result.parameters ? { parameters: Object.fromEntries(Object.entries(result.parameters).map(([k, v]) => [k, { string_param: v }])) } : {}),
        outputs: result.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
        raw_output_contents: result.outputs.map((o) => Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength)),
      };
    }),
  });

  return server;
}

/** In-flight calls finish; after 5 s whatever is left is cut. */
function shutdown(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => server.forceShutdown(), 5_000);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

export async function listenGrpc(options: GrpcOptions): Promise<GrpcServing> {
  const server = buildGrpc(options);
  const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { port, close: () => shutdown(server) };
}

/** The service for connections accepted elsewhere (a port listened on before this module loaded). */
export function grpcConnectionSink(options: GrpcServiceOptions): ConnectionSink {
  const server = buildGrpc(options);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    accept: (socket) => injector.injectConnection(socket),
    close: () => shutdown(server),
  };
}
