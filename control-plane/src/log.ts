import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger };

export function createLogger(level: LogLevel, identity: string): Logger {
  return pino({ level, base: { component: 'control-plane', instance: identity } });
}
