import { describe, expect, it } from 'vitest';
import { ArtifactSignature, AssignedVariant, ModelVariant, openApiOf, EdgeModelDeploymentSpec } from './index.ts';

// A real P-256 signature's length (70-72 DER bytes) as cosign prints it.
const SIG = 'MEUCIQCs1l3c8yNwQKQmVwF0cM5w0Yb9Xv2mM0s0oTTbqz3d1gIgB0q1Wm3o1o7cXk9mH8yE6m0b1qQ0mB0pQ8u1d2n3f4g=';
const variant = { name: 'int8', precision: 'int8', profile: 'full', uri: 'nats-obj://ep-models/m.onnx', sha256: 'a'.repeat(64), sizeBytes: 10, accuracy: 0.9, gflops: 1, memoryMiB: 16 };

describe('variant signature', () => {
  const rows: Array<{ name: string; value: string; ok: boolean }> = [
    { name: 'base64 as cosign prints it', value: SIG, ok: true },
    { name: 'one padding character', value: 'MEQCIA' + 'A'.repeat(89) + '=', ok: true },
    { name: 'no padding needed', value: 'A'.repeat(96), ok: true },
    { name: 'empty', value: '', ok: false },
    { name: 'too short to be a signature', value: 'MEUC', ok: false },
    { name: 'longer than any ECDSA signature', value: 'A'.repeat(260), ok: false },
    { name: 'URL-safe alphabet', value: `${SIG.slice(0, 10)}-${SIG.slice(11)}`, ok: false },
    { name: 'missing padding', value: SIG.slice(0, -1), ok: false },
    { name: 'a line break inside', value: `${SIG.slice(0, 40)}\n${SIG.slice(40)}`, ok: false },
    { name: 'a PEM block', value: `-----BEGIN SIGNATURE-----${SIG}`, ok: false },
  ];
  for (const r of rows) {
    it(`${r.ok ? 'accepts' : 'refuses'} ${r.name}`, () => {
      expect(ArtifactSignature.safeParse(r.value).success).toBe(r.ok);
      expect(ModelVariant.safeParse({ ...variant, signature: r.value }).success).toBe(r.ok);
      expect(AssignedVariant.safeParse({ ...variant, signature: r.value }).success).toBe(r.ok);
    });
  }

  it('is optional on both sides', () => {
    expect(ModelVariant.parse(variant)).not.toHaveProperty('signature');
    expect(AssignedVariant.parse(variant)).not.toHaveProperty('signature');
  });

  it('reaches the CRD schema bounded, with its pattern and a description', () => {
    const props = (((openApiOf(EdgeModelDeploymentSpec).properties as any).model.properties.variants.items.properties) as Record<string, any>).signature;
    expect(props).toMatchObject({ type: 'string', minLength: 12, maxLength: 256 });
    expect(props['x-kubernetes-validations']).toEqual([{ rule: expect.stringMatching(/^self\.matches\('/), message: expect.stringMatching(/standard base64/) }]);
    expect(props.description).toMatch(/cosign sign-blob --key/);
  });
});
