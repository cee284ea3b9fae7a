// Every NATS message decoder against bytes a peer chooses: arbitrary bytes, arbitrary JSON,
// valid messages with a field replaced, and inputs built to be expensive (huge arrays and
// strings, deep nesting). decode() must return a typed error or a value, never throw, and
// finish a megabyte quickly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { Assignment, Heartbeat, Hello, HelloReply, TensorList, decode, isMessageParseError } from './index.ts';

const valid: Record<string, unknown> = {
  hello: {
    v: 1,
    node: 'gw-7',
    agentVersion: '0.1.0',
    bootId: 'b-1',
    host: { arch: 'arm64' },
    accelerators: [{ id: 'cpu0', type: 'CPU', memoryMiB: 1, precisions: ['fp32'], tops: {} }],
    power: { source: 'mains' },
    network: { type: 'ethernet' },
  },
  'hello reply': { v: 1, accepted: true, heartbeatIntervalMs: 5000, fullEvery: 12 },
  heartbeat: { v: 1, seq: 3, full: true, power: { source: 'mains' }, cachedArtifacts: ['a'.repeat(64)] },
  assignment: {
    v: 1,
    node: 'gw-7',
    issuedAtMs: 1,
    workloads: [
      {
        key: 'ns/d',
        namespace: 'ns',
        deployment: 'd',
        model: 'm',
        task: 't',
        variant: { name: 'v', precision: 'int8', profile: 'lite', uri: 'nats-obj://ep-models/v', sha256: 'c'.repeat(64), sizeBytes: 1, memoryMiB: 1 },
        accelerator: 'cpu0',
        latencySloMs: 50,
      },
    ],
  },
  'tensor list': [{ name: 'x', datatype: 'FP32', shape: [1, 3] }],
};

const schemas: Array<{ kind: string; schema: z.ZodType }> = [
  { kind: 'hello', schema: Hello },
  { kind: 'hello reply', schema: HelloReply },
  { kind: 'heartbeat', schema: Heartbeat },
  { kind: 'assignment', schema: Assignment },
  { kind: 'tensor list', schema: TensorList },
];

/** decode() either succeeds or returns a MessageParseError; a throw fails the property. */
function decodesSafely(schema: z.ZodType, kind: string, data: Uint8Array | string): boolean {
  const r = decode(schema, kind, data);
  if (!r.ok) {
    expect(isMessageParseError(r.error)).toBe(true);
    expect(r.error.code).toBe('MALFORMED_MESSAGE');
  }
  return r.ok;
}

/** Replaces the value at a random path of a valid message with arbitrary JSON. */
function mutate(value: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || typeof value !== 'object' || value === null) return replacement;
  const keys = Object.keys(value);
  if (keys.length === 0) return replacement;
  const key = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...value };
  copy[key] = mutate((value as Record<string, unknown>)[key], path.slice(1), replacement);
  return copy;
}

const deep = (depth: number, open: string, close: string, leaf = '1') => open.repeat(depth) + leaf + close.repeat(depth);

describe.each(schemas)('decode($kind)', ({ kind, schema }) => {
  it('accepts the valid example', () => {
    expect(decodesSafely(schema, kind, JSON.stringify(valid[kind]))).toBe(true);
  });

  it('returns a typed error for arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        decodesSafely(schema, kind, bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('returns a typed error or a value for arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        decodesSafely(schema, kind, text);
      }),
      { numRuns: 200 },
    );
  });

  it('survives a valid message with any field replaced by arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 4 }), (path, replacement) => {
        decodesSafely(schema, kind, JSON.stringify(mutate(valid[kind], path, replacement)));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses megabyte inputs (huge arrays, strings, nesting), or strips them, quickly', () => {
    const mib = 2 ** 20;
    const inputs = [
      `[${'1,'.repeat(mib / 2)}1]`,
      JSON.stringify('x'.repeat(mib)),
      deep(mib / 2, '[', ']'),
      deep(mib / 8, '{"a":', '}'),
      JSON.stringify({ ...(valid[kind] as object), cachedArtifacts: Array.from({ length: mib / 70 }, () => 'a'.repeat(64)) }),
      JSON.stringify({ ...(valid[kind] as object), workloads: Array.from({ length: 20_000 }, () => ({ key: 1 })) }),
      JSON.stringify({ ...(valid[kind] as object), labels: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 'v'])) }),
      JSON.stringify({ ...(valid[kind] as object), node: 'n'.repeat(mib) }),
    ];
    const started = performance.now();
    for (const input of inputs) {
      expect(input.length).toBeGreaterThan(mib / 8);
      const r = decode(schema, kind, input);
      // Refused, or accepted with the unknown bulk stripped: nothing large is kept.
      if (r.ok) expect(JSON.stringify(r.value).length).toBeLessThan(128 * 1024);
      else expect(isMessageParseError(r.error)).toBe(true);
    }
    // Linear work only: a few hundred ms on a loaded machine for all of them.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
