import { describe, expect, it } from 'vitest';
import { bootstrapTokenStringData, nodeNameMatches, parseBootstrapTokenData, tokenState, type BootstrapToken } from './bootstrap-token.ts';

const token: BootstrapToken = {
  tokenId: 'abcdef',
  secret: '0123456789abcdef',
  expiresAtMs: Date.parse('2031-01-02T03:04:05Z'),
  maxUses: 3,
  nodeNamePattern: 'gw-*',
  uses: 1,
  allowReenrollment: false,
};

describe('bootstrap token data', () => {
  it('round-trips through the Secret data', () => {
    const r = parseBootstrapTokenData(bootstrapTokenStringData(token));
    expect(r).toEqual({ ok: true, token });
    expect(bootstrapTokenStringData(token).expiration).toBe('2031-01-02T03:04:05Z');
  });

  it('reads a minimal token: no limit, no pattern, no uses yet', () => {
    const r = parseBootstrapTokenData({ 'token-id': 'abcdef', 'token-secret': '0123456789abcdef', expiration: '2031-01-02T03:04:05+02:00' });
    expect(r).toEqual({ ok: true, token: { tokenId: 'abcdef', secret: '0123456789abcdef', expiresAtMs: Date.parse('2031-01-02T01:04:05Z'), uses: 0, allowReenrollment: false } });
  });

  const data = bootstrapTokenStringData(token);
  const bad: { name: string; change: Record<string, string>; field: string }[] = [
    { name: 'short secret', change: { 'token-secret': 'abc' }, field: 'token-secret' },
    { name: 'upper-case id', change: { 'token-id': 'ABCDEF' }, field: 'token-id' },
    { name: 'expiration not RFC 3339', change: { expiration: 'tomorrow' }, field: 'expiration' },
    { name: 'expiration without a zone', change: { expiration: '2031-01-02T03:04:05' }, field: 'expiration' },
    { name: 'max-uses zero', change: { 'max-uses': '0' }, field: 'max-uses' },
    { name: 'max-uses not a number', change: { 'max-uses': 'many' }, field: 'max-uses' },
    { name: 'negative uses', change: { uses: '-1' }, field: 'uses' },
    { name: 'pattern with a regex', change: { 'node-name-pattern': 'gw-.+' }, field: 'node-name-pattern' },
    { name: 'reenrollment not a boolean', change: { 'allow-reenrollment': 'yes' }, field: 'allow-reenrollment' },
  ];
  it.each(bad)('names the field of a $name and never echoes the value', ({ change, field }) => {
    const r = parseBootstrapTokenData({ ...data, ...change });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.field).toBe(field);
      expect(r.message).not.toContain(Object.values(change)[0]);
    }
  });
});

describe('token state', () => {
  const at = Date.parse('2030-01-01T00:00:00Z');
  const rows: { name: string; t: Partial<BootstrapToken>; want: string }[] = [
    { name: 'fresh', t: { uses: 0 }, want: 'usable' },
    { name: 'one use left', t: { uses: 2 }, want: 'usable' },
    { name: 'used up', t: { uses: 3 }, want: 'used-up' },
    { name: 'over-used', t: { uses: 9 }, want: 'used-up' },
    { name: 'no limit', t: { maxUses: undefined, uses: 10_000 }, want: 'usable' },
    { name: 'expires now', t: { expiresAtMs: at }, want: 'expired' },
    { name: 'expired and used up', t: { expiresAtMs: at - 1, uses: 3 }, want: 'expired' },
    { name: 'expires in 1 ms', t: { expiresAtMs: at + 1 }, want: 'usable' },
  ];
  it.each(rows)('$name -> $want', ({ t, want }) => {
    expect(tokenState({ ...token, ...t }, at)).toBe(want);
  });
});

describe('node name globs', () => {
  const rows: { pattern: string; name: string; want: boolean }[] = [
    { pattern: 'gw-*', name: 'gw-1', want: true },
    { pattern: 'gw-*', name: 'gw-', want: true },
    { pattern: 'gw-*', name: 'gateway-1', want: false },
    { pattern: 'gw-*', name: 'xgw-1', want: false },
    { pattern: '*-dock-?', name: 'site-a-dock-3', want: true },
    { pattern: '*-dock-?', name: 'site-a-dock-12', want: false },
    { pattern: 'gw-1', name: 'gw-1', want: true },
    { pattern: 'gw-1', name: 'gw-10', want: false },
    { pattern: '*', name: 'anything', want: true },
    { pattern: 'a*b*c', name: 'aXXbYYc'.toLowerCase(), want: true },
    { pattern: 'a*b*c', name: 'acb', want: false },
  ];
  it.each(rows)('$pattern ~ $name -> $want', ({ pattern, name, want }) => {
    expect(nodeNameMatches(pattern, name)).toBe(want);
  });

  it('stays fast on a pattern built to backtrack', () => {
    const started = performance.now();
    expect(nodeNameMatches(`${'*a'.repeat(31)}b`, 'a'.repeat(63))).toBe(false);
    expect(performance.now() - started).toBeLessThan(50);
  });
});
