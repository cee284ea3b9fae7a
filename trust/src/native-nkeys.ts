// nkeys signing and verification with Node's native ed25519. The nkeys library derives the
// key pair from the seed in JavaScript on every call (sign, public key, private key), tens of
// milliseconds on a busy edge-class CPU; a control plane signing a JWT per enrolling node, or
// checking a proof per request, cannot afford that. Signatures are identical (ed25519 is
// deterministic), so everything that reads them is unchanged.
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { fromSeed, type KeyPair } from '@nats-io/jwt';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** DER headers of an ed25519 PKCS#8 private key and SPKI public key around the raw 32 bytes. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function base32Decode(text: string): Uint8Array | null {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function base32Encode(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** CRC-16/XMODEM, as nkeys checks its encodings. */
function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** An nkey text: prefix bytes, the 32-byte payload, CRC-16 little-endian, base32. */
function encodeNkey(prefix: readonly number[], payload: Uint8Array): string {
  const body = Uint8Array.from([...prefix, ...payload]);
  const crc = crc16(body);
  return base32Encode(Uint8Array.from([...body, crc & 0xff, crc >> 8]));
}

const SEED_PREFIX = 144;
const USER_PREFIX = 160;

/** The payload of an nkey encoding after `prefixBytes`, or null when the checksum fails. */
function decodeNkey(text: string, prefixBytes: number): Uint8Array | null {
  const raw = base32Decode(text);
  if (!raw || raw.length !== prefixBytes + 32 + 2) return null;
  const body = raw.subarray(0, raw.length - 2);
  const crc = raw[raw.length - 2]! | (raw[raw.length - 1]! << 8);
  return crc16(body) === crc ? raw.subarray(prefixBytes, prefixBytes + 32) : null;
}

/** A native public key object for an nkey public key (U..., A..., O...), or null. */
export function nativePublicKey(publicKey: string): KeyObject | null {
  const raw = decodeNkey(publicKey, 1);
  if (!raw) return null;
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return null;
  }
}

/** ed25519 verification with the native implementation; false for anything malformed. */
export function nativeVerify(publicKey: string, data: Uint8Array, signature: Uint8Array): boolean {
  const key = nativePublicKey(publicKey);
  if (!key || signature.length !== 64) return false;
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

interface Derived {
  privateKey: KeyObject;
  publicKey: string;
  /** nkeys' encoding of the 64-byte secret key, derived once when asked. */
  encodedPrivate?: Uint8Array;
}

/** Derived key material per seed: a handful of fleet keys, or a node's own one. Bounded. */
const derived = new Map<string, Derived>();
const MAX_DERIVED = 64;

function derive(seed: string): Derived {
  const hit = derived.get(seed);
  if (hit) return hit;
  const all = base32Decode(seed);
  const raw = decodeNkey(seed, 2);
  if (!all || !raw || (all[0]! & 0xf8) !== SEED_PREFIX) throw new Error('not an nkey seed');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  // The seed's two prefix bytes carry the kind of key (user, account, operator).
  const role = ((all[0]! & 7) << 5) | (all[1]! >> 3);
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const d: Derived = { privateKey, publicKey: encodeNkey([role], spki.subarray(spki.length - 32)) };
  if (derived.size >= MAX_DERIVED) derived.delete(derived.keys().next().value!);
  derived.set(seed, d);
  return d;
}

/** A fresh user nkey (seed and public key), made natively. */
export function nativeUserKey(): { seed: string; publicKey: string } {
  const seed = encodeNkey([SEED_PREFIX | (USER_PREFIX >> 5), (USER_PREFIX & 31) << 3], randomBytes(32));
  return { seed, publicKey: derive(seed).publicKey };
}

/** A KeyPair for a seed whose sign and public key are native and derived once. */
export function nativeKeyPair(seed: string): KeyPair {
  const d = derive(seed);
  let seedBytes: Uint8Array | undefined = new TextEncoder().encode(seed);
  const live = () => {
    if (!seedBytes) throw new Error('nkeys: key pair was cleared');
    return seedBytes;
  };
  return {
    getPublicKey: () => (live(), d.publicKey),
    getSeed: () => live(),
    getPrivateKey: () => (d.encodedPrivate ??= fromSeed(live()).getPrivateKey()),
    sign: (input: Uint8Array) => (live(), new Uint8Array(sign(null, input, d.privateKey))),
    verify: (input: Uint8Array, sig: Uint8Array) => (live(), nativeVerify(d.publicKey, input, sig)),
    clear: () => {
      seedBytes = undefined;
    },
    seal: () => {
      throw new Error('nkeys: not a curve key');
    },
    open: () => {
      throw new Error('nkeys: not a curve key');
    },
    getRawSeed: () => decodeNkey(new TextDecoder().decode(live()), 2)!,
  } as KeyPair;
}
