// Errors of the identity commands (certs, token, node): each with a code that tests assert on.
export const IDENTITY_ERROR_CODES = ['BAD_ARGUMENT', 'OUTPUT_EXISTS', 'TRUST_FILE', 'KUBE', 'NOT_FOUND'] as const;
export type IdentityErrorCode = (typeof IDENTITY_ERROR_CODES)[number];

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isIdentityError(err: unknown, code?: IdentityErrorCode): err is IdentityError {
  return err instanceof IdentityError && (code === undefined || err.code === code);
}
