// The native nkeys signer against the nkeys library: same public keys, same signatures, and
// each verifies the other's.
import { describe, expect, it } from 'vitest';
import { createAccount, createOperator, createUser, fromPublic, fromSeed } from '@nats-io/jwt';
import { nativeKeyPair, nativeUserKey, nativeVerify } from './native-nkeys.ts';

const enc = new TextEncoder();
const seedOf = (kp: { getSeed(): Uint8Array }) => new TextDecoder().decode(kp.getSeed());

describe('native nkeys', () => {
  it.each([
    ['user', createUser],
    ['account', createAccount],
    ['operator', createOperator],
  ] as const)('match the nkeys library for %s keys', (_kind, create) => {
    for (let i = 0; i < 5; i++) {
      const lib = create();
      const native = nativeKeyPair(seedOf(lib));
      const data = enc.encode(`statement ${i}`);
      expect(native.getPublicKey()).toBe(lib.getPublicKey());
      expect(Buffer.from(native.sign(data))).toEqual(Buffer.from(lib.sign(data)));
      expect(Buffer.from(native.getPrivateKey())).toEqual(Buffer.from(lib.getPrivateKey()));
      expect(fromPublic(lib.getPublicKey()).verify(data, native.sign(data))).toBe(true);
      expect(nativeVerify(lib.getPublicKey(), data, lib.sign(data))).toBe(true);
    }
  });

  it('makes user keys the library reads back', () => {
    const k = nativeUserKey();
    expect(k.seed).toMatch(/^SU[A-Z2-7]{56}$/);
    expect(k.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(fromSeed(enc.encode(k.seed)).getPublicKey()).toBe(k.publicKey);
  });

  it('refuses what does not verify, and malformed keys and signatures, without throwing', () => {
    const k = nativeUserKey();
    const other = nativeUserKey();
    const data = enc.encode('x');
    const sig = nativeKeyPair(k.seed).sign(data);
    expect(nativeVerify(other.publicKey, data, sig)).toBe(false);
    expect(nativeVerify(k.publicKey, enc.encode('y'), sig)).toBe(false);
    expect(nativeVerify(k.publicKey, data, sig.subarray(1))).toBe(false);
    expect(nativeVerify(`${k.publicKey.slice(0, -1)}${k.publicKey.endsWith("A") ? "B" : "A"}`, data, sig)).toBe(false);
    expect(nativeVerify('not a key', data, sig)).toBe(false);
    expect(() => nativeKeyPair('SUNOTASEED')).toThrow(/not an nkey seed/);
  });

  it('a cleared pair no longer signs', () => {
    const kp = nativeKeyPair(nativeUserKey().seed);
    kp.clear();
    expect(() => kp.sign(enc.encode('x'))).toThrow(/cleared/);
  });
});
