// Errors of `kubectl edgeplane`: each with a code that tests assert on and an exit status.
export const PLUGIN_ERROR_CODES = ['BAD_ARGUMENT', 'NOT_FOUND', 'KUBE', 'TIMEOUT'] as const;
export type PluginErrorCode = (typeof PLUGIN_ERROR_CODES)[number];

export class PluginError extends Error {
  override readonly name = 'PluginError';
  readonly code: PluginErrorCode;

  constructor(code: PluginErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isPluginError(err: unknown, code?: PluginErrorCode): err is PluginError {
  return err instanceof PluginError && (code === undefined || err.code === code);
}

/** kubectl's convention: 1 for a failed request or a missing object, 2 for bad usage. */
export function exitCode(err: PluginError): number {
  return err.code === 'BAD_ARGUMENT' ? 2 : 1;
}
