// Checks the control plane's answer to hello before the agent acts on it. The reply may set
// only the heartbeat pacing, within the bounds of the schema; the stores the agent reads are
// fixed by its own configuration, so a forged or broken reply can neither point it at another
// bucket nor make it heartbeat at 1 kHz.
import { HelloReply, decode, stores, type MessageParseError } from '@edgeplane/api';

/** A hello reply that does not parse or is out of bounds; the agent keeps its current pacing. */
export class HelloReplyError extends Error {
  override readonly name = 'HelloReplyError';
  readonly code = 'HELLO_REPLY_INVALID';
  readonly issues: MessageParseError['issues'];
  constructor(cause: MessageParseError) {
    super(`hello reply refused: ${cause.message}`, { cause });
    this.issues = cause.issues;
  }
}
export const isHelloReplyError = (err: unknown): err is HelloReplyError => err instanceof HelloReplyError;

/** The store names the agent uses, from its configuration. */
export interface ConfiguredStores {
  assignmentsBucket: string;
  modelsBucket: string;
}

export const DEFAULT_STORES: ConfiguredStores = { assignmentsBucket: stores.assignments, modelsBucket: stores.models };

export type CheckedReply =
  | {
      ok: true;
      reply: HelloReply;
      /** Store names the reply gave that differ from the configured ones: ignored, worth a log line. */
      ignored: { field: 'assignmentsBucket' | 'modelsBucket'; replied: string; configured: string }[];
    }
  | { ok: false; error: HelloReplyError };

export function checkHelloReply(data: Uint8Array | string, configured: ConfiguredStores = DEFAULT_STORES): CheckedReply {
  const decoded = decode(HelloReply, 'hello reply', data);
  if (!decoded.ok) return { ok: false, error: new HelloReplyError(decoded.error) };
  const { assignmentsBucket, modelsBucket, ...rest } = decoded.value;
  const ignored: Extract<CheckedReply, { ok: true }>['ignored'] = [];
  if (assignmentsBucket !== undefined && assignmentsBucket !== configured.assignmentsBucket) {
    ignored.push({ field: 'assignmentsBucket', replied: assignmentsBucket, configured: configured.assignmentsBucket });
  }
  if (modelsBucket !== undefined && modelsBucket !== configured.modelsBucket) {
    ignored.push({ field: 'modelsBucket', replied: modelsBucket, configured: configured.modelsBucket });
  }
  // What the rest of the agent sees carries the configured names, whatever the reply said.
  return { ok: true, reply: { ...rest, assignmentsBucket: configured.assignmentsBucket, modelsBucket: configured.modelsBucket }, ignored };
}
