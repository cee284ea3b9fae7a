// Errors of the fleet simulator: bad flags, a bad profile mix or a bad timeline file.
// Each carries a code, so callers and tests never match on message text.

export const SIMULATE_ERROR_CODES = ['BAD_MIX', 'BAD_TIMELINE', 'BAD_FLAG', 'UNKNOWN_NODE', 'TIMEOUT'] as const;
export type SimulateErrorCode = (typeof SIMULATE_ERROR_CODES)[number];

export class SimulateError extends Error {
  override readonly name = 'SimulateError';
  readonly code: SimulateErrorCode;

  constructor(code: SimulateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isSimulateError(err: unknown): err is SimulateError {
  return err instanceof SimulateError;
}
