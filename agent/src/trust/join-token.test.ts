import { describe, expect, it } from 'vitest';
import { nkeys } from '@nats-io/transport-node';
import { issueBootstrapJwt, verifyStatement } from '@edgeplane/trust';
import { enrollProofText } from '@edgeplane/api';
import { isJoinTokenError } from './errors.ts';
import { parseJoinToken } from './join-token.ts';
import { createNodeKey, enrollProof, publicKeyOf } from './proof.ts';
import { testTrust } from './test-credentials.ts';

describe('parseJoinToken', async () => {
  const jwt = await issueBootstrapJwt(testTrust(), 'abc123', 2_000_000_000);

  it('splits id, secret and bootstrap JWT, and reads the expiry', () => {
    expect(parseJoinToken(`  abc123.0123456789abcdef::${jwt}\n`)).toEqual({ id: 'abc123', token: 'abc123.0123456789abcdef', jwt, expiresAtS: 2_000_000_000 });
  });

  const rows = [
    { name: 'empty', text: '   ', field: 'token' },
    { name: 'no separator', text: 'abc123.0123456789abcdef', field: 'token' },
    { name: 'short id', text: `ab12.0123456789abcdef::${jwt}`, field: 'id' },
    { name: 'upper-case id', text: `ABC123.0123456789abcdef::${jwt}`, field: 'id' },
    { name: 'no secret', text: `abc123::${jwt}`, field: 'secret' },
    { name: 'short secret', text: `abc123.0123456789abcde::${jwt}`, field: 'secret' },
    { name: 'not a JWT', text: 'abc123.0123456789abcdef::not-a-jwt', field: 'jwt' },
    { name: 'too long', text: 'x'.repeat(20_000), field: 'token' },
  ];
  for (const r of rows) {
    it(`refuses ${r.name}, naming the field and never the secret`, () => {
      let err: unknown;
      try {
        parseJoinToken(r.text);
      } catch (e) {
        err = e;
      }
      expect(isJoinTokenError(err)).toBe(true);
      expect((err as { field: string }).field).toBe(r.field);
      expect((err as Error).message).not.toContain('0123456789abcde');
    });
  }
});

describe('enrolment proof', () => {
  it('is the node key signature over the proof text, which the control plane can verify', () => {
    const key = createNodeKey();
    expect(key.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(publicKeyOf(key.seed)).toBe(key.publicKey);
    const proof = enrollProof(key, 'gw-a', 'abc123');
    expect(verifyStatement(key.publicKey, enrollProofText('gw-a', 'abc123', key.publicKey), proof)).toBe(true);
    // Bound to node, token and key: another of any fails.
    expect(verifyStatement(key.publicKey, enrollProofText('gw-b', 'abc123', key.publicKey), proof)).toBe(false);
    expect(verifyStatement(key.publicKey, enrollProofText('gw-a', 'zzz999', key.publicKey), proof)).toBe(false);
    const other = nkeys.createUser().getPublicKey();
    expect(verifyStatement(other, enrollProofText('gw-a', 'abc123', other), proof)).toBe(false);
  });
});
