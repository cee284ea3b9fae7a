import { describe, expect, it } from 'vitest';
import type { Hello } from '@edgeplane/api';
import { decodePending, encodePending } from './hello-pending.ts';

const hello: Hello = {
  v: 1,
  node: 'n1',
  agentVersion: '1.0.0',
  bootId: 'b',
  host: { arch: 'x64' },
  accelerators: [{ id: 'gpu0', type: 'GPU', memoryMiB: 8192, precisions: ['fp16'], tops: { fp16: 10 } }],
  power: { source: 'mains' },
  network: { type: 'ethernet' },
  labels: { site: 'a' },
  cachedArtifacts: [],
};

describe('pending hello encoding', () => {
  it('round-trips a hello with its admission time', () => {
    expect(decodePending(encodePending({ hello, atMs: 1_796_046_279_167 }))).toEqual({ hello, atMs: 1_796_046_279_167 });
  });

  it('reads a damaged or foreign value as nothing, never a crash', () => {
    for (const bad of ['', '{', 'null', '[]', '{"atMs":"1","hello":{}}', JSON.stringify({ atMs: 1, hello: { ...hello, node: '' } }), JSON.stringify({ hello })]) {
      expect(decodePending(bad)).toBeNull();
    }
  });
});
