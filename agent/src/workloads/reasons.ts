// Placement reasons a workload reports, from the error that stopped it. Terminal reasons
// need a new assignment (another variant or digest); the others are retried on the next apply.
import { isWorkloadError } from './errors.ts';

export const REASONS = {
  ARTIFACT_DIGEST_MISMATCH: 'DigestMismatch',
  ARTIFACT_DIGEST_INVALID: 'InvalidDigest',
  ARTIFACT_URI_NOT_ALLOWED: 'UriNotAllowed',
  ARTIFACT_FETCH_FAILED: 'FetchFailed',
  ARTIFACT_URI_UNSUPPORTED: 'UnsupportedUri',
  ARTIFACT_CACHE_FULL: 'CacheFull',
  ARTIFACT_SIGNATURE_MISSING: 'SignatureMissing',
  ARTIFACT_SIGNATURE_INVALID: 'SignatureInvalid',
  MODEL_LOAD_FAILED: 'LoadFailed',
  ACCELERATOR_NOT_FOUND: 'AcceleratorNotFound',
} as const;

const TERMINAL = new Set<string>(['DigestMismatch', 'InvalidDigest', 'UnsupportedUri', 'UriNotAllowed', 'LoadFailed', 'AcceleratorNotFound', 'SignatureMissing', 'SignatureInvalid']);

export function reasonOf(err: unknown): string {
  if (isWorkloadError(err) && err.code in REASONS) return REASONS[err.code as keyof typeof REASONS];
  return 'Error';
}

export function isTerminalReason(reason: string | undefined): boolean {
  return reason !== undefined && TERMINAL.has(reason);
}
