// The control plane's logger: JSON lines with credentials removed from every one (URLs with
// passwords, tokens, seeds, JWTs, authorization headers), whatever a caller passes in.
import { pino, type Logger } from 'pino';
import { redactChildBindings, redactingLogOptions } from '@edgeplane/api';
import type { LogLevel } from './config.ts';
import { logContextMixin } from './log-context.ts';

export type { Logger };

export function createLogger(level: LogLevel, identity: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { component: 'control-plane', instance: identity }, mixin: logContextMixin, ...redactingLogOptions(pino.stdSerializers.err) };
  return redactChildBindings(destination ? pino(options, destination) : pino(options));
}
