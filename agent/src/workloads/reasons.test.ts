import { describe, expect, it } from 'vitest';
import { CacheDiskFullError, CacheFullError, DigestMismatchError, LoadCrashedError, ModelLoadError } from './errors.ts';
import { isTerminalReason, reasonOf } from './reasons.ts';

describe('reasonOf', () => {
  const rows: Array<{ name: string; err: unknown; want: string; terminal: boolean }> = [
    { name: 'digest mismatch', err: new DigestMismatchError('nats-obj://b/o', 'a'.repeat(64)), want: 'DigestMismatch', terminal: true },
    { name: 'a load error', err: new ModelLoadError('m', { cause: new Error('Protobuf parsing failed') }), want: 'LoadFailed', terminal: true },
    { name: 'ONNX Runtime out of memory', err: new ModelLoadError('m', { cause: new Error('std::bad_alloc') }), want: 'OutOfMemory', terminal: false },
    { name: 'a session thread over its heap limit', err: new ModelLoadError('m', { cause: Object.assign(new Error('worker terminated'), { code: 'ERR_WORKER_OUT_OF_MEMORY' }) }), want: 'OutOfMemory', terminal: false },
    { name: 'the agent stopped during the last load', err: new LoadCrashedError('m'), want: 'LoadCrashed', terminal: true },
    { name: 'the cache cap', err: new CacheFullError(10, 5, 5), want: 'CacheFull', terminal: false },
    { name: 'the cache disk', err: new CacheDiskFullError(10, 2), want: 'CacheDiskFull', terminal: false },
    { name: 'anything else', err: new Error('boom'), want: 'Error', terminal: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(reasonOf(row.err)).toBe(row.want);
      expect(isTerminalReason(reasonOf(row.err))).toBe(row.terminal);
    });
  }
});
