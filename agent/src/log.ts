// The agent's logger: JSON lines with credentials removed from every one (URLs with
// passwords, tokens, seeds, JWTs, authorization headers), whatever a caller passes in.
import { pino, type Logger } from 'pino';
import { redactChildBindings, redactingLogOptions } from '@edgeplane/api';
import type { LogLevel } from './config.ts';

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options = { level, ...redactingLogOptions(pino.stdSerializers.err) };
  return redactChildBindings(destination ? pino(options, destination) : pino(options));
}
