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

const MAX_ISSUES_SHOWN = 8;
const MAX_ISSUES_KEPT = 64;

/** A wire message that is not valid JSON or does not match its schema. */
export class MessageParseError extends Error {
  override readonly name = 'MessageParseError';
  readonly code = 'MALFORMED_MESSAGE';
  readonly kind: string;
  readonly issues: FieldIssue[];

  constructor(kind: string, issues: FieldIssue[], options?: { cause?: unknown }) {
    // A hostile message can fail in thousands of places: name the first few, count the rest.
    const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((i) => `${i.path}: ${i.message}`);
    if (issues.length > MAX_ISSUES_SHOWN) shown.push(`and ${issues.length - MAX_ISSUES_SHOWN} more`);
    super(`malformed ${kind}: ${shown.join('; ')}`, options);
    this.kind = kind;
    this.issues = issues.slice(0, MAX_ISSUES_KEPT);
  }
}

export function isMessageParseError(err: unknown): err is MessageParseError {
  return err instanceof MessageParseError;
}
