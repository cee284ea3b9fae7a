import { describe, expect, it } from 'vitest';
import { enrollProofText, type BootstrapToken, type EnrollRequest, type NodeIdentity } from '@edgeplane/api';
import { newUserKey, signStatement, verifyStatement } from '@edgeplane/trust';
import { decideEnrollment, decideRenewal, secretsEqual, type EnrollDecision } from './enroll-checks.ts';

const NOW = Date.parse('2030-06-01T00:00:00Z');
const key = newUserKey();
const other = newUserKey();

const token: BootstrapToken = {
  tokenId: 'abcdef',
  secret: '0123456789abcdef',
  expiresAtMs: NOW + 3_600_000,
  maxUses: 2,
  uses: 0,
  allowReenrollment: false,
};

function request(over: Partial<EnrollRequest> = {}, signer = key): EnrollRequest {
  const node = over.node ?? 'gw-1';
  const publicKey = over.publicKey ?? key.publicKey;
  const tokenText = over.token ?? 'abcdef.0123456789abcdef';
  return { v: 1, token: tokenText, node, publicKey, proof: signStatement(signer.seed, enrollProofText(node, tokenText.split('.')[0]!, publicKey)), ...over };
}

const enrolled = (publicKey: string, over: Partial<NodeIdentity> = {}): NodeIdentity => ({ publicKey, enrolledBy: 'abcdef', revoked: false, ...over });

describe('enrolment decisions', () => {
  const rows: { name: string; req?: EnrollRequest; tok?: Partial<BootstrapToken> | null; existing?: NodeIdentity | null; want: EnrollDecision | { ok: false; reason: string } }[] = [
    { name: 'a new node with a fresh token', want: { ok: true, countUse: true } },
    { name: 'the last use of a token', tok: { uses: 1 }, want: { ok: true, countUse: true } },
    { name: 'a token without a use limit', tok: { maxUses: undefined, uses: 500 }, want: { ok: true, countUse: true } },
    { name: 'a node that said hello before it enrolled (no key yet)', existing: { revoked: false }, want: { ok: true, countUse: true } },
    { name: 'a retry of an enrolment already counted, token since used up', tok: { uses: 2 }, existing: enrolled(key.publicKey), want: { ok: true, countUse: false } },
    { name: 'the same key, enrolled by another token', existing: enrolled(key.publicKey, { enrolledBy: 'zzzzzz' }), want: { ok: true, countUse: true } },
    { name: 'a new key where the token allows re-enrolment', tok: { allowReenrollment: true }, existing: enrolled(other.publicKey), want: { ok: true, countUse: true, replacesKey: other.publicKey } },
    { name: 'no such token', tok: null, want: { ok: false, reason: 'TOKEN_INVALID' } },
    { name: 'a Secret holding another token id', tok: { tokenId: 'zzzzzz' }, want: { ok: false, reason: 'TOKEN_INVALID' } },
    { name: 'a wrong secret', req: request({ token: 'abcdef.ffffffffffffffff' }), want: { ok: false, reason: 'TOKEN_INVALID' } },
    { name: 'an expired token', tok: { expiresAtMs: NOW }, want: { ok: false, reason: 'TOKEN_INVALID' } },
    { name: 'an expired token, even for a retry', tok: { expiresAtMs: NOW - 1 }, existing: enrolled(key.publicKey), want: { ok: false, reason: 'TOKEN_INVALID' } },
    { name: 'a used-up token', tok: { uses: 2 }, want: { ok: false, reason: 'TOKEN_INVALID' } },
    { name: 'a proof signed by another key', req: request({}, other), want: { ok: false, reason: 'PROOF_INVALID' } },
    { name: 'a proof over another node name', req: { ...request(), node: 'gw-2' }, want: { ok: false, reason: 'PROOF_INVALID' } },
    { name: 'a proof that is not a signature', req: request({ proof: 'AAAA' }), want: { ok: false, reason: 'PROOF_INVALID' } },
    { name: 'a name outside the pattern', tok: { nodeNamePattern: 'dock-*' }, want: { ok: false, reason: 'NODE_NOT_ALLOWED' } },
    { name: 'a name inside the pattern', tok: { nodeNamePattern: 'gw-?' }, want: { ok: true, countUse: true } },
    { name: 'a revoked node', existing: enrolled(key.publicKey, { revoked: true }), want: { ok: false, reason: 'NODE_REVOKED' } },
    { name: 'a node enrolled with another key', existing: enrolled(other.publicKey), want: { ok: false, reason: 'NODE_KEY_CONFLICT' } },
    { name: 'a wrong secret says nothing about the node', req: request({ token: 'abcdef.ffffffffffffffff' }), existing: enrolled(other.publicKey, { revoked: true }), want: { ok: false, reason: 'TOKEN_INVALID' } },
  ];
  it.each(rows)('$name', ({ req = request(), tok = {}, existing = null, want }) => {
    const got = decideEnrollment({ request: req, token: tok === null ? null : { ...token, ...tok }, existing, nowMs: NOW });
    expect(got).toMatchObject(want);
    if (want.ok) expect(got).toEqual(want);
    if (!got.ok) expect(got.detail).not.toContain(token.secret);
  });
});

describe('renewal decisions', () => {
  const rows: { name: string; existing: NodeIdentity | null; key: string; want: string }[] = [
    { name: 'the recorded key', existing: enrolled(key.publicKey), key: key.publicKey, want: 'ok' },
    { name: 'no EdgeNode', existing: null, key: key.publicKey, want: 'NODE_UNKNOWN' },
    { name: 'an EdgeNode without a key', existing: { revoked: false }, key: key.publicKey, want: 'NODE_UNKNOWN' },
    { name: 'another key than recorded', existing: enrolled(other.publicKey), key: key.publicKey, want: 'KEY_MISMATCH' },
    { name: 'a revoked node', existing: enrolled(key.publicKey, { revoked: true }), key: key.publicKey, want: 'NODE_REVOKED' },
  ];
  it.each(rows)('$name -> $want', ({ existing, key: k, want }) => {
    const got = decideRenewal(existing, k);
    expect(got.ok ? 'ok' : got.reason).toBe(want);
  });
});

describe('proof and secret primitives', () => {
  it('a signature verifies only the statement and key it was made for', () => {
    const sig = signStatement(key.seed, 'statement');
    expect(verifyStatement(key.publicKey, 'statement', sig)).toBe(true);
    expect(verifyStatement(key.publicKey, 'statement!', sig)).toBe(false);
    expect(verifyStatement(other.publicKey, 'statement', sig)).toBe(false);
    expect(verifyStatement('not-a-key', 'statement', sig)).toBe(false);
  });
  it('compares secrets of any length without throwing', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abd')).toBe(false);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
  });
});
