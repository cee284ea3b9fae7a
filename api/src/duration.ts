import { z } from 'zod';

/** Milliseconds per unit of a duration such as `1h30m` (Go's units, plus `d`). */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const WHOLE = /^(?:\d{1,9}(?:ms|s|m|h|d))+$/;
const PART = /(\d{1,9})(ms|s|m|h|d)/g;

/** `24h`, `90m`, `1h30m`, `3600s` as milliseconds; null for anything else. */
export function parseDurationMs(text: string): number | null {
  if (text.length > 64 || !WHOLE.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : null;
}

/** A duration as written in a flag, e.g. `24h`, within [minMs, maxMs]; parses to milliseconds. */
export const durationText = (minMs: number, maxMs: number) =>
  z.string().transform((s, ctx): number => {
    const ms = parseDurationMs(s.trim());
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 24h, 90m or 1h30m (units ms, s, m, h, d)' });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `must be between ${formatDurationMs(minMs)} and ${formatDurationMs(maxMs)}` });
      return z.NEVER;
    }
    return ms;
  });

/** The shortest exact text for a duration: `1d`, `36h`, `90m`, `1500ms`. */
export function formatDurationMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
