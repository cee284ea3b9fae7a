// Proof of possession of an nkey: the holder signs a statement with its seed, anyone checks
// the signature with the public key. An enrolling agent proves this way that the credential it
// asks for is bound to a key it holds (the seed itself never leaves the node).
import { keyPair } from './material.ts';
import { nativeUserKey, nativeVerify } from './native-nkeys.ts';

const enc = new TextEncoder();

/** A fresh user nkey, as an enrolling node makes its own: the seed stays where it was made. */
export function newUserKey(): { seed: string; publicKey: string } {
  return nativeUserKey();
}

/** base64 ed25519 signature of the statement with the seed's key. */
export function signStatement(seed: string, statement: string): string {
  return Buffer.from(keyPair(seed).sign(enc.encode(statement))).toString('base64');
}

/**
 * The answer to nats-server's connect challenge: the key's public key and its base64 signature
 * of the nonce, as nats.js's nkey authenticator computes it, signed natively (nats.js derives
 * the key pair in JavaScript three times per connection).
 */
export function signNonce(seed: string, nonce: string | undefined): { nkey: string; sig: string } {
  const kp = keyPair(seed);
  return { nkey: kp.getPublicKey(), sig: nonce ? Buffer.from(kp.sign(enc.encode(nonce))).toString('base64') : '' };
}

/** True only when the base64 signature verifies the statement with the public key; never throws. */
export function verifyStatement(publicKey: string, statement: string, signatureB64: string): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  return sig.length === 64 && nativeVerify(publicKey, enc.encode(statement), sig);
}
