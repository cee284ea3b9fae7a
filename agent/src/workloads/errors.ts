// The catalogue of every failure on the workload side (artifacts, runtime, balancer, serving):
// one class per failure, each with a stable code, the HTTP status it maps to, and a
// predicate. HTTP replies and NATS error headers are built from `code` and `httpStatus` only.
// Messages end up in placement status and replies: URLs in them are redacted, and nothing
// says what a local file hashes to or how large it is.
import { redactUrl } from '@edgeplane/api';

export const ERROR_CODES = {
  ARTIFACT_DIGEST_MISMATCH: 502,
  ARTIFACT_DIGEST_INVALID: 400,
  ARTIFACT_URI_NOT_ALLOWED: 403,
  ARTIFACT_FETCH_FAILED: 502,
  ARTIFACT_URI_UNSUPPORTED: 400,
  ARTIFACT_CACHE_FULL: 507,
  ARTIFACT_CACHE_DISK_FULL: 507,
  ARTIFACT_SIGNATURE_MISSING: 502,
  ARTIFACT_SIGNATURE_INVALID: 502,
  MODEL_LOAD_FAILED: 500,
  MODEL_LOAD_CRASHED: 500,
  ACCELERATOR_NOT_FOUND: 500,
  MODEL_NOT_FOUND: 404,
  MODEL_NOT_READY: 503,
  OVERLOADED: 503,
  DEADLINE_EXCEEDED: 504,
  INVALID_REQUEST: 400,
  INVALID_DATATYPE: 400,
  INVALID_SHAPE: 400,
  INVALID_SIZE: 400,
  PAYLOAD_TOO_LARGE: 413,
  TENSOR_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  INFERENCE_FAILED: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** Base of the catalogue; not thrown itself. */
export abstract class WorkloadError extends Error {
  abstract readonly code: ErrorCode;
  get httpStatus(): number {
    return ERROR_CODES[this.code];
  }
}

export function isWorkloadError(err: unknown): err is WorkloadError {
  return err instanceof WorkloadError;
}

/**
 * The bytes do not hash to the digest the assignment names (or are not the declared size);
 * the file is deleted. The message never carries the computed digest or a size: for a file://
 * artifact those would tell whoever wrote the assignment something about a local file.
 */
export class DigestMismatchError extends WorkloadError {
  override readonly name = 'DigestMismatchError';
  readonly code = 'ARTIFACT_DIGEST_MISMATCH';
  readonly expected: string;
  constructor(uri: string, expected: string) {
    super(`artifact ${redactUrl(uri)}: digest mismatch, expected sha256 ${expected}`);
    this.expected = expected;
  }
}
export const isDigestMismatchError = (err: unknown): err is DigestMismatchError => err instanceof DigestMismatchError;

export class ArtifactFetchError extends WorkloadError {
  override readonly name = 'ArtifactFetchError';
  readonly code = 'ARTIFACT_FETCH_FAILED';
  /** Bytes safely on disk when the fetch failed; the next attempt resumes from here. */
  readonly bytesOnDisk: number;
  constructor(uri: string, detail: string, bytesOnDisk: number, options?: { cause?: unknown }) {
    // No byte count in the message: for a local file it would disclose the file's size.
    super(`fetching ${redactUrl(uri)} failed: ${redactUrl(detail)}`, options);
    this.bytesOnDisk = bytesOnDisk;
  }
}
export const isArtifactFetchError = (err: unknown): err is ArtifactFetchError => err instanceof ArtifactFetchError;

/** A digest that is not 64 lowercase hex characters never names a file in the cache. */
export class InvalidDigestError extends WorkloadError {
  override readonly name = 'InvalidDigestError';
  readonly code = 'ARTIFACT_DIGEST_INVALID';
  constructor() {
    super('artifact sha256 must be 64 lowercase hexadecimal characters');
  }
}
export const isInvalidDigestError = (err: unknown): err is InvalidDigestError => err instanceof InvalidDigestError;

/** A file:// artifact outside the roots the agent's configuration allows (or none are). */
export class FileUriNotAllowedError extends WorkloadError {
  override readonly name = 'FileUriNotAllowedError';
  readonly code = 'ARTIFACT_URI_NOT_ALLOWED';
  constructor(uri: string, why: string) {
    super(`artifact ${redactUrl(uri)} refused: ${why}`);
  }
}
export const isFileUriNotAllowedError = (err: unknown): err is FileUriNotAllowedError => err instanceof FileUriNotAllowedError;

export class UnsupportedUriError extends WorkloadError {
  override readonly name = 'UnsupportedUriError';
  readonly code = 'ARTIFACT_URI_UNSUPPORTED';
  constructor(uri: string) {
    super(`unsupported artifact uri ${redactUrl(uri).slice(0, 512)}: expected https://, file:// or nats-obj://<bucket>/<object>`);
  }
}
export const isUnsupportedUriError = (err: unknown): err is UnsupportedUriError => err instanceof UnsupportedUriError;

/** Everything in the cache is in use, so nothing can be evicted to make room. */
export class CacheFullError extends WorkloadError {
  override readonly name = 'CacheFullError';
  readonly code = 'ARTIFACT_CACHE_FULL';
  constructor(needBytes: number, maxBytes: number, pinnedBytes: number) {
    super(`artifact cache cannot fit ${needBytes} bytes: cap ${maxBytes}, ${pinnedBytes} bytes held by loaded models`);
  }
}
export const isCacheFullError = (err: unknown): err is CacheFullError => err instanceof CacheFullError;

/**
 * The file system under the cache has no room (ENOSPC, a quota), whatever the cache's own cap
 * says. The partial file is removed, so the disk is not left full and nothing half-written stays.
 */
export class CacheDiskFullError extends WorkloadError {
  override readonly name = 'CacheDiskFullError';
  readonly code = 'ARTIFACT_CACHE_DISK_FULL';
  constructor(needBytes: number, freeBytes: number | undefined, options?: { cause?: unknown }) {
    super(
      freeBytes === undefined
        ? `no space left on the artifact cache disk for ${needBytes} bytes`
        : `no space left on the artifact cache disk: ${needBytes} bytes needed, ${freeBytes} free`,
      options,
    );
  }
}
export const isCacheDiskFullError = (err: unknown): err is CacheDiskFullError => err instanceof CacheDiskFullError;

/** The node requires signed models and the variant carries no signature; nothing is fetched. */
export class SignatureMissingError extends WorkloadError {
  override readonly name = 'SignatureMissingError';
  readonly code = 'ARTIFACT_SIGNATURE_MISSING';
  constructor(variant: string) {
    super(`variant ${variant} is not signed and this node loads only signed models: sign the artifact (edgeplane model sign, or cosign sign-blob --key) and set the variant's signature`);
  }
}
export const isSignatureMissingError = (err: unknown): err is SignatureMissingError => err instanceof SignatureMissingError;

/** No trusted key verifies the variant's signature over the artifact's bytes; nothing is loaded. */
export class SignatureInvalidError extends WorkloadError {
  override readonly name = 'SignatureInvalidError';
  readonly code = 'ARTIFACT_SIGNATURE_INVALID';
  constructor(variant: string, keys: number) {
    super(`the signature of variant ${variant} does not verify with ${keys === 1 ? 'the trusted public key' : `any of the ${keys} trusted public keys`}: the artifact was changed after signing, or another key signed it`);
  }
}
export const isSignatureInvalidError = (err: unknown): err is SignatureInvalidError => err instanceof SignatureInvalidError;

export class ModelLoadError extends WorkloadError {
  override readonly name = 'ModelLoadError';
  readonly code = 'MODEL_LOAD_FAILED';
  constructor(what: string, options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`loading ${what} failed${detail}`, options);
  }
}
export const isModelLoadError = (err: unknown): err is ModelLoadError => err instanceof ModelLoadError;

/**
 * The agent stopped while loading this artifact last time (the kernel's out-of-memory killer,
 * a crash in the runtime, a kill). Loading it again at start-up could kill it again, before it
 * ever reports, so it is refused once, which the control plane sees and works around.
 */
export class LoadCrashedError extends WorkloadError {
  override readonly name = 'LoadCrashedError';
  readonly code = 'MODEL_LOAD_CRASHED';
  constructor(variant: string) {
    super(`the agent stopped while loading ${variant} (out of memory, a runtime crash or a kill); not loaded again until it is assigned anew`);
  }
}
export const isLoadCrashedError = (err: unknown): err is LoadCrashedError => err instanceof LoadCrashedError;

/** The assignment names an accelerator that discovery did not find on this node. */
export class AcceleratorNotFoundError extends WorkloadError {
  override readonly name = 'AcceleratorNotFoundError';
  readonly code = 'ACCELERATOR_NOT_FOUND';
  constructor(accelerator: string, known: readonly string[]) {
    super(`accelerator ${accelerator} is not on this node (it has ${known.join(', ') || 'none'})`);
  }
}
export const isAcceleratorNotFoundError = (err: unknown): err is AcceleratorNotFoundError => err instanceof AcceleratorNotFoundError;

export class ModelNotFoundError extends WorkloadError {
  override readonly name = 'ModelNotFoundError';
  readonly code = 'MODEL_NOT_FOUND';
  constructor(model: string) {
    super(`model ${model} is not served on this node`);
  }
}
export const isModelNotFoundError = (err: unknown): err is ModelNotFoundError => err instanceof ModelNotFoundError;

export class ModelNotReadyError extends WorkloadError {
  override readonly name = 'ModelNotReadyError';
  readonly code = 'MODEL_NOT_READY';
  constructor(model: string, phase: string) {
    super(`model ${model} is not ready (phase ${phase})`);
  }
}
export const isModelNotReadyError = (err: unknown): err is ModelNotReadyError => err instanceof ModelNotReadyError;

/** The bounded queue is full: refused at once rather than growing memory. */
export class OverloadedError extends WorkloadError {
  override readonly name = 'OverloadedError';
  readonly code = 'OVERLOADED';
  constructor(queued: number, maxQueue: number) {
    super(`overloaded: ${queued} requests queued, the limit is ${maxQueue}`);
  }
}
export const isOverloadedError = (err: unknown): err is OverloadedError => err instanceof OverloadedError;

/** The request's deadline passed before it ran; it was not run. */
export class DeadlineExceededError extends WorkloadError {
  override readonly name = 'DeadlineExceededError';
  readonly code = 'DEADLINE_EXCEEDED';
  constructor(waitedMs: number) {
    super(`deadline exceeded after ${Math.round(waitedMs)} ms in the queue; the request was not run`);
  }
}
export const isDeadlineExceededError = (err: unknown): err is DeadlineExceededError => err instanceof DeadlineExceededError;

export class InvalidRequestError extends WorkloadError {
  override readonly name = 'InvalidRequestError';
  readonly code = 'INVALID_REQUEST';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
export const isInvalidRequestError = (err: unknown): err is InvalidRequestError => err instanceof InvalidRequestError;

export class DatatypeMismatchError extends WorkloadError {
  override readonly name = 'DatatypeMismatchError';
  readonly code = 'INVALID_DATATYPE';
  readonly tensor: string;
  constructor(tensor: string, got: string, want: string) {
    super(`input ${tensor} has datatype ${got}, the model expects ${want}`);
    this.tensor = tensor;
  }
}
export const isDatatypeMismatchError = (err: unknown): err is DatatypeMismatchError => err instanceof DatatypeMismatchError;

export class ShapeMismatchError extends WorkloadError {
  override readonly name = 'ShapeMismatchError';
  readonly code = 'INVALID_SHAPE';
  readonly tensor: string;
  constructor(tensor: string, got: readonly number[], want: readonly (number | string)[]) {
    super(`input ${tensor} has shape [${got.join(',')}], the model expects [${want.join(',')}]`);
    this.tensor = tensor;
  }
}
export const isShapeMismatchError = (err: unknown): err is ShapeMismatchError => err instanceof ShapeMismatchError;

export class SizeMismatchError extends WorkloadError {
  override readonly name = 'SizeMismatchError';
  readonly code = 'INVALID_SIZE';
  readonly tensor: string;
  constructor(tensor: string, gotBytes: number, wantBytes: number) {
    super(`input ${tensor} carries ${gotBytes} bytes, its shape and datatype need ${wantBytes}`);
    this.tensor = tensor;
  }
}
export const isSizeMismatchError = (err: unknown): err is SizeMismatchError => err instanceof SizeMismatchError;

export class PayloadTooLargeError extends WorkloadError {
  override readonly name = 'PayloadTooLargeError';
  readonly code = 'PAYLOAD_TOO_LARGE';
  /** `bytes` is null when the sender did not say (a chunked HTTP body). */
  constructor(bytes: number | null, limit: number) {
    super(bytes === null ? `payload is over the limit of ${limit} bytes` : `payload of ${bytes} bytes is over the limit of ${limit} bytes`);
  }
}
export const isPayloadTooLargeError = (err: unknown): err is PayloadTooLargeError => err instanceof PayloadTooLargeError;

/** A tensor whose shape claims more elements than the limit; refused before any allocation. */
export class TensorTooLargeError extends WorkloadError {
  override readonly name = 'TensorTooLargeError';
  readonly code = 'TENSOR_TOO_LARGE';
  readonly tensor: string;
  constructor(tensor: string, shape: readonly number[], maxElements: number) {
    super(`input ${tensor} has shape [${shape.join(',')}], over the limit of ${maxElements} elements`);
    this.tensor = tensor;
  }
}
export const isTensorTooLargeError = (err: unknown): err is TensorTooLargeError => err instanceof TensorTooLargeError;

export class InferenceError extends WorkloadError {
  override readonly name = 'InferenceError';
  readonly code = 'INFERENCE_FAILED';
  constructor(model: string, options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`inference on ${model} failed${detail}`, options);
  }
}
export const isInferenceError = (err: unknown): err is InferenceError => err instanceof InferenceError;

/** The local endpoint requires a bearer token and the request had none, or another one. */
export class UnauthenticatedError extends WorkloadError {
  override readonly name = 'UnauthenticatedError';
  readonly code = 'UNAUTHENTICATED';
  constructor(detail: string) {
    super(detail);
  }
}
export const isUnauthenticatedError = (err: unknown): err is UnauthenticatedError => err instanceof UnauthenticatedError;

/** Maps any error to what a reply carries; unknown errors become INFERENCE_FAILED. */
export function replyError(err: unknown): { status: number; code: ErrorCode; message: string } {
  if (isWorkloadError(err)) return { status: err.httpStatus, code: err.code, message: err.message };
  return { status: 500, code: 'INFERENCE_FAILED', message: err instanceof Error ? err.message : String(err) };
}
