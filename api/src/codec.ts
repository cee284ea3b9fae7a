import type { z } from 'zod';
import { MessageParseError, issuesOf } from './errors.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: MessageParseError };

/**
 * Parses a wire message. Never throws: a receiver counts and drops a bad message, so a
 * peer cannot crash it with bytes.
 */
export function decode<S extends z.ZodType>(schema: S, kind: string, data: Uint8Array | string): Decoded<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : decoder.decode(data));
  } catch (cause) {
    return { ok: false, error: new MessageParseError(kind, [{ path: '(root)', message: 'not valid UTF-8 JSON' }], { cause }) };
  }
  const result = schema.safeParse(json);
  if (!result.success) return { ok: false, error: new MessageParseError(kind, issuesOf(result.error), { cause: result.error }) };
  return { ok: true, value: result.data };
}

/** Validates before sending, so a bug on this side fails here and not at the peer. */
export function encode<S extends z.ZodType>(schema: S, kind: string, value: z.input<S>): Uint8Array {
  const result = schema.safeParse(value);
  if (!result.success) throw new MessageParseError(kind, issuesOf(result.error), { cause: result.error });
  return encoder.encode(JSON.stringify(result.data));
}
