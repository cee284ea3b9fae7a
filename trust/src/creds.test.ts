// readUserJwt verifies natively what @nats-io/jwt's decode verifies in JavaScript; signNonce
// answers the connect challenge as nats.js's authenticator does. Both against the library.
import { createUser, decode, encodeUser, fromPublic, fromSeed } from '@nats-io/jwt';
// The authenticator the agent used before: what the server has always been sent.
import { nkeyAuthenticator } from '@nats-io/transport-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { fleetAccountJwt } from './accounts.ts';
import { createCa } from './certs.ts';
import { readUserJwt } from './creds.ts';
import { keyPair, createTrustMaterial, publicKey, type TrustMaterial } from './material.ts';
import { newUserKey, signNonce } from './proof.ts';
import { issueBootstrapJwt, issueNodeJwt } from './users.ts';

let trust: TrustMaterial;
let nodeJwt: string;
const node = newUserKey();

beforeAll(async () => {
  trust = createTrustMaterial(await createCa('test'));
  nodeJwt = await issueNodeJwt(trust, { node: 'gw-1', userPublicKey: node.publicKey, tags: ['serve:a.b'], ttlS: 3600 });
});

/** The JWT with one character of a part changed (still valid base64url). */
function tamper(jwt: string, part: 0 | 1 | 2): string {
  const parts = jwt.split('.');
  const p = parts[part]!;
  const i = Math.floor(p.length / 2);
  parts[part] = `${p.slice(0, i)}${p[i] === 'A' ? 'B' : 'A'}${p.slice(i + 1)}`;
  return parts.join('.');
}

describe('readUserJwt', () => {
  it('reads a node JWT as the library decodes it', () => {
    const lib = decode<{ tags?: string[] }>(nodeJwt);
    expect(readUserJwt(nodeJwt)).toEqual({ name: 'gw-1', subject: node.publicKey, issuedAtS: lib.iat, expiresAtS: lib.exp, tags: ['serve:a.b'] });
  });

  it('reads a bootstrap JWT, with its expiry', async () => {
    const jwt = await issueBootstrapJwt(trust, 'abc123', 2_000_000_000);
    expect(readUserJwt(jwt)).toMatchObject({ name: 'bootstrap-abc123', expiresAtS: 2_000_000_000 });
  });

  it('reads a user JWT the library signed itself (its own encoding)', async () => {
    const user = createUser();
    const jwt = await encodeUser('lib', user, keyPair(trust.fleet), {});
    expect(readUserJwt(jwt)).toMatchObject({ name: 'lib', subject: user.getPublicKey(), tags: [] });
  });

  const refused: { name: string; jwt: () => Promise<string> | string }[] = [
    { name: 'a changed header', jwt: () => tamper(nodeJwt, 0) },
    { name: 'changed claims', jwt: () => tamper(nodeJwt, 1) },
    { name: 'a changed signature', jwt: () => tamper(nodeJwt, 2) },
    { name: 'claims signed by another key', jwt: () => `${nodeJwt.split('.').slice(0, 2).join('.')}.${signedBy(nodeJwt, newUserKey().seed)}` },
    { name: 'an account JWT', jwt: () => fleetAccountJwt(trust) },
    { name: 'two parts', jwt: () => nodeJwt.split('.').slice(0, 2).join('.') },
    { name: 'not base64 JSON', jwt: () => 'a.b.c' },
    { name: 'empty', jwt: () => '' },
  ];
  for (const row of refused) {
    it(`is null for ${row.name}, as the library refuses it`, async () => {
      const jwt = await row.jwt();
      expect(readUserJwt(jwt)).toBeNull();
      let libReads: boolean;
      try {
        libReads = (decode<{ type?: string }>(jwt).nats as { type?: string } | undefined)?.type === 'user';
      } catch {
        libReads = false;
      }
      expect(libReads).toBe(false);
    });
  }
});

/** A base64url signature of the JWT's header and claims with another key. */
function signedBy(jwt: string, seed: string): string {
  const signed = new TextEncoder().encode(jwt.split('.').slice(0, 2).join('.'));
  return Buffer.from(keyPair(seed).sign(signed)).toString('base64url');
}

describe('signNonce', () => {
  it('answers as nats.js nkeyAuthenticator does', () => {
    for (const nonce of ['abc', 'x'.repeat(22), undefined]) {
      const lib = nkeyAuthenticator(new TextEncoder().encode(node.seed))(nonce);
      expect(signNonce(node.seed, nonce)).toEqual(lib);
    }
  });

  it('signs with the key the server checks the nonce against', () => {
    const { nkey, sig } = signNonce(node.seed, 'nonce-1');
    expect(nkey).toBe(publicKey(node.seed));
    expect(fromPublic(nkey).verify(new TextEncoder().encode('nonce-1'), Buffer.from(sig, 'base64'))).toBe(true);
    expect(fromSeed(new TextEncoder().encode(node.seed)).getPublicKey()).toBe(nkey);
  });
});
