import { describe, expect, it } from 'vitest';
import type { PlacementPhase, WorkloadAssignment } from '@edgeplane/api';
import { isModelNotFoundError } from '../workloads/errors.ts';
import { decodeBytesElements, encodeBytesElements } from './kserve.ts';
import { modelReady, resolveModel, serverReady } from './oip.ts';
import type { ModelRegistry, ServedModel } from './registry.ts';

function model(deployment: string, phase: PlacementPhase): ServedModel {
  return {
    key: `ns/${deployment}`,
    assignment: { namespace: 'ns', deployment, variant: { name: 'fp32' } } as unknown as WorkloadAssignment,
    phase,
    ready: phase === 'Ready',
    inputs: [],
    outputs: [],
    infer: async () => [],
  };
}
const registry = (models: ServedModel[]): ModelRegistry => ({ model: (n) => models.find((m) => m.assignment.deployment === n) ?? null, models: () => models });

describe('server readiness', () => {
  it('is ready with a failed placement beside a ready one: the failure is that model’s own not-ready', () => {
    const r = registry([model('a', 'Ready'), model('b', 'Failed')]);
    expect(serverReady(r)).toBe(true);
    expect(modelReady(r, 'b')).toEqual({ name: 'b', ready: false });
  });
  for (const phase of ['Pending', 'Downloading', 'Loading'] as const) {
    it(`is not ready while a model is ${phase}`, () => expect(serverReady(registry([model('a', 'Ready'), model('b', phase)]))).toBe(false));
  }
  it('is ready with nothing assigned', () => expect(serverReady(registry([]))).toBe(true));
  it('resolves a version only when it is the variant served', () => {
    const r = registry([model('a', 'Ready')]);
    expect(resolveModel(r, 'a', 'fp32').key).toBe('ns/a');
    expect(() => resolveModel(r, 'a', 'int8')).toThrow(expect.objectContaining({ code: 'MODEL_NOT_FOUND' }));
    try {
      resolveModel(r, 'zz');
    } catch (err) {
      expect(isModelNotFoundError(err)).toBe(true);
    }
  });
});

describe('BYTES elements', () => {
  const enc = new TextEncoder();
  it('round-trips length-prefixed elements', () => {
    const raw = encodeBytesElements([enc.encode('ab'), enc.encode(''), enc.encode('xyz')]);
    expect(raw.byteLength).toBe(4 * 3 + 5);
    expect(decodeBytesElements('s', raw, 3).map((e) => new TextDecoder().decode(e))).toEqual(['ab', '', 'xyz']);
  });
  it('refuses a truncated prefix, an overlong element and a wrong count, naming the input', () => {
    expect(() => decodeBytesElements('s', new Uint8Array([1, 0]), 1)).toThrow(/input s: BYTES element 0 has a truncated/);
    expect(() => decodeBytesElements('s', new Uint8Array([9, 0, 0, 0, 1]), 1)).toThrow(/claims 9 bytes/);
    expect(() => decodeBytesElements('s', encodeBytesElements([enc.encode('a')]), 2)).toThrow(/carries 1 BYTES elements, its shape needs 2/);
    expect(() => decodeBytesElements('s', encodeBytesElements([enc.encode('a'), enc.encode('b')]), 1)).toThrow(/more than the 1/);
  });
});
