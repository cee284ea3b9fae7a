export { loadSession, runSession, zeroInputs, type LoadedSession, type SessionOptions } from './session.ts';
export { ISOLATIONS, inlineHost, resolveOrtModule, sessionHost, workerHost, type Isolation, type RawSession, type SessionHost, type ValueMeta } from './host.ts';
export { sessionExecutor, rowsOf, type InferInputs } from './executor.ts';
export { providerPlan, providersFor, type ProviderPlan } from './providers.ts';
export {
  batchable,
  byteSize,
  checkInputs,
  checkedElementCount,
  DEFAULT_MAX_TENSOR_ELEMENTS,
  concatBatch,
  datatypeOfOrt,
  elementCount,
  isFreeDim,
  ortTypeOf,
  splitBatch,
  type TensorSpec,
  type WireTensor,
} from './tensors.ts';
