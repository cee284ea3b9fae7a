export { build, listenHttp, type HttpOptions } from './http.ts';
export { serveNats, type NatsServing, type NatsServingOptions, type NatsServingStats } from './nats.ts';
export type { ModelRegistry, ServedModel } from './registry.ts';
export { fromJson, toJson, metadataOf, type JsonTensor } from './kserve.ts';
export { decodeRequest, encodeOutputs, timeoutOf, type HeaderReader } from './wire.ts';
export { listenGrpc, type GrpcOptions, type GrpcServing } from './grpc.ts';
export { infer, modelMetadata, modelReady, serverMetadata, serverReady, type InferRequest, type InferResult } from './oip.ts';
