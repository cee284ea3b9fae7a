import type { z } from 'zod';

/** One problem in a message or resource, with the dotted path of the offending field. */
export interface FieldIssue {
  path: string;
  message: string;
}

export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({
    path: i.path.length ? i.path.map(String).join('.') : '(root)',
    message: i.message,
  }));
}

/** A wire message that is not valid JSON or does not match its schema. */
export class MessageParseError extends Error {
  override readonly name = 'MessageParseError';
  readonly code = 'MALFORMED_MESSAGE';
  readonly kind: string;
  readonly issues: FieldIssue[];

  constructor(kind: string, issues: FieldIssue[], options?: { cause?: unknown }) {
    super(`malformed ${kind}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, options);
    this.kind = kind;
    this.issues = issues;
  }
}

export function isMessageParseError(err: unknown): err is MessageParseError {
  return err instanceof MessageParseError;
}
