/** Every way a model command can refuse its input, each with a stable code that tests assert on. */
export const MODEL_ERROR_CODES = [
  'NOT_ONNX',
  'UNSUPPORTED_OPSET',
  'UNSUPPORTED_OPERATOR',
  'DYNAMIC_SHAPE',
  'BAD_SHAPE',
  'EMPTY_CALIBRATION',
  'BAD_ARGUMENT',
  'NOT_A_VARIANT_DIR',
  'OUTPUT_EXISTS',
  'PUSH_FAILED',
  'KEY_INVALID',
  'KEY_PASSWORD',
  'SIGNATURE_MALFORMED',
  'SIGNATURE_MISMATCH',
] as const;
export type ModelErrorCode = (typeof MODEL_ERROR_CODES)[number];

export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly code: ModelErrorCode;

  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True for a ModelError, and for one with the given code when a code is passed. */
export function isModelError(err: unknown, code?: ModelErrorCode): err is ModelError {
  return err instanceof ModelError && (code === undefined || err.code === code);
}
