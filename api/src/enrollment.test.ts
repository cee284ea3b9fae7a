import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { enrollSubject } from '@edgeplane/trust';
import {
  EnrollReply,
  EnrollRequest,
  RenewReply,
  RenewRequest,
  decode,
  encode,
  formatDurationMs,
  formatJoinToken,
  isMessageParseError,
  nodeFromSubject,
  parseDurationMs,
  parseJoinToken,
  subjects,
} from './index.ts';

const KEY = `U${'A'.repeat(55)}`;
const JWT = 'eyJhbGciOiJlZDI1NTE5In0.eyJzdWIiOiJVIn0.c2ln';
const request = { v: 1, token: 'abcdef.0123456789abcdef', node: 'gw-7', publicKey: KEY, proof: 'A'.repeat(86) + '==' };

describe('enrolment messages', () => {
  const rows = [
    { name: 'enrol request', schema: EnrollRequest, value: request },
    { name: 'renew request', schema: RenewRequest, value: { v: 1, node: 'gw-7', publicKey: KEY } },
    { name: 'accepted', schema: EnrollReply, value: { v: 1, accepted: true, jwt: JWT } },
    { name: 'refused', schema: RenewReply, value: { v: 1, accepted: false, reason: 'UNAVAILABLE', retryAfterMs: 1000 } },
  ] as const;
  it.each(rows)('$name round-trips', ({ schema, value }) => {
    const d = decode(schema, 'x', encode(schema, 'x', value as never));
    expect(d.ok && d.value).toEqual(value);
  });

  const bad = [
    { name: 'token without a secret', value: { ...request, token: 'abcdef' }, path: 'token' },
    { name: 'upper-case token', value: { ...request, token: 'ABCDEF.0123456789abcdef' }, path: 'token' },
    { name: 'seed instead of a public key', value: { ...request, publicKey: `SU${'A'.repeat(56)}` }, path: 'publicKey' },
    { name: 'node that is not a DNS label', value: { ...request, node: 'GW_7' }, path: 'node' },
    { name: 'proof that is not base64', value: { ...request, proof: 'not base64!' }, path: 'proof' },
    { name: 'huge proof', value: { ...request, proof: 'A'.repeat(10_000) }, path: 'proof' },
  ];
  it.each(bad)('refuses a request with a $name, naming the field', ({ value, path }) => {
    const d = decode(EnrollRequest, 'enrol request', JSON.stringify(value));
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.issues.map((i) => i.path)).toContain(path);
  });

  it('refuses an accepted reply without a JWT and a refusal that is a sentence', () => {
    expect(decode(EnrollReply, 'r', JSON.stringify({ v: 1, accepted: true })).ok).toBe(false);
    expect(decode(EnrollReply, 'r', JSON.stringify({ v: 1, accepted: false, reason: 'the token abcdef.0123 expired' })).ok).toBe(false);
  });

  it('decoders return a typed error for any bytes or JSON, never throw', () => {
    for (const schema of [EnrollRequest, EnrollReply, RenewRequest, RenewReply]) {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.json().map((j) => new TextEncoder().encode(j))), (bytes) => {
          const d = decode(schema, 'fuzz', bytes);
          if (!d.ok) expect(isMessageParseError(d.error)).toBe(true);
        }),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(fc.string({ maxLength: 40 }), fc.anything(), (field, junk) => {
          const d = decode(schema, 'fuzz', JSON.stringify({ ...request, [field]: junk }) ?? 'null');
          if (!d.ok) expect(isMessageParseError(d.error)).toBe(true);
        }),
        { numRuns: 300 },
      );
    }
  });
});

describe('subjects', () => {
  it('enrolment is the subject the bootstrap user may publish; renew is under the node', () => {
    expect(subjects.enroll).toBe(enrollSubject);
    expect(nodeFromSubject(subjects.renew('gw-7'))).toBe('gw-7');
    expect(subjects.renew('gw-7')).toMatch(new RegExp(`^${subjects.allRenew.replace('.', '\\.').replace('*', '[^.]+')}$`));
  });
});

describe('join tokens', () => {
  it('parse what format writes', () => {
    expect(parseJoinToken(formatJoinToken('abcdef', '0123456789abcdef', JWT))).toEqual({ tokenId: 'abcdef', secret: '0123456789abcdef', token: 'abcdef.0123456789abcdef', jwt: JWT });
  });
  it.each(['', 'abcdef.0123456789abcdef', `abcdef.0123456789abcdef::`, `abcdef.short::${JWT}`, `abcdef.0123456789abcdef::not-a-jwt`, `::${JWT}`])('refuse %j', (text) => {
    expect(parseJoinToken(text)).toBeNull();
  });
});

describe('durations', () => {
  const rows = [
    { text: '24h', ms: 86_400_000 },
    { text: '1h30m', ms: 5_400_000 },
    { text: '90s', ms: 90_000 },
    { text: '1d', ms: 86_400_000 },
    { text: '250ms', ms: 250 },
    { text: '', ms: null },
    { text: '24', ms: null },
    { text: '-1h', ms: null },
    { text: '1.5h', ms: null },
    { text: 'h', ms: null },
  ];
  it.each(rows)('$text -> $ms', ({ text, ms }) => {
    expect(parseDurationMs(text)).toBe(ms);
  });
  it('formats exactly', () => {
    expect([86_400_000, 129_600_000, 5_400_000, 1500].map(formatDurationMs)).toEqual(['1d', '36h', '90m', '1500ms']);
  });
});
