// Placement reasons a workload reports, from the error that stopped it. Terminal reasons
// need a new assignment (another variant or digest); the others are retried on the next apply.
import { isModelLoadError, isWorkloadError } from './errors.ts';

export const REASONS = {
  ARTIFACT_DIGEST_MISMATCH: 'DigestMismatch',
  ARTIFACT_DIGEST_INVALID: 'InvalidDigest',
  ARTIFACT_URI_NOT_ALLOWED: 'UriNotAllowed',
  ARTIFACT_FETCH_FAILED: 'FetchFailed',
  ARTIFACT_URI_UNSUPPORTED: 'UnsupportedUri',
  ARTIFACT_CACHE_FULL: 'CacheFull',
  ARTIFACT_CACHE_DISK_FULL: 'CacheDiskFull',
  ARTIFACT_SIGNATURE_MISSING: 'SignatureMissing',
  ARTIFACT_SIGNATURE_INVALID: 'SignatureInvalid',
  MODEL_LOAD_FAILED: 'LoadFailed',
  MODEL_LOAD_CRASHED: 'LoadCrashed',
  ACCELERATOR_NOT_FOUND: 'AcceleratorNotFound',
} as const;

const TERMINAL = new Set<string>(['LoadCrashed', 'DigestMismatch', 'InvalidDigest', 'UnsupportedUri', 'UriNotAllowed', 'LoadFailed', 'AcceleratorNotFound', 'SignatureMissing', 'SignatureInvalid']);

/**
 * ONNX Runtime says it ran out of memory only in words (a C++ bad_alloc, an allocator
 * failure); a worker thread over its heap limit has a code. Either is worth its own reason:
 * a smaller variant or another node may fit where this one did not.
 */
const OUT_OF_MEMORY = /bad_alloc|out of memory|failed to allocate|cannot allocate memory|ENOMEM|ERR_WORKER_OUT_OF_MEMORY/i;

function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    parts.push(e.message, String((e as { code?: unknown }).code ?? ''));
  }
  return parts.join(' ');
}

export function reasonOf(err: unknown): string {
  if (isModelLoadError(err) && OUT_OF_MEMORY.test(causeChain(err))) return 'OutOfMemory';
  if (isWorkloadError(err) && err.code in REASONS) return REASONS[err.code as keyof typeof REASONS];
  return 'Error';
}

export function isTerminalReason(reason: string | undefined): boolean {
  return reason !== undefined && TERMINAL.has(reason);
}
