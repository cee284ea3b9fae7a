// Batching of token uses, against an in-memory token store with the same compare-and-swap rule
// as the API server's (the Kubernetes side is covered by test/security/enrollment.test.ts).
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_REFUSALS, tokenState, type BootstrapToken } from '@edgeplane/api';
import type { V1Secret } from '@kubernetes/client-node';
import type { TokenRead } from '../kube/bootstrap-tokens.ts';
import type { EnrollDecision } from './enroll-checks.ts';
import { TokenUses } from './token-uses.ts';

class MemoryTokens {
  version = 1;
  reads = 0;
  writes: number[] = [];
  /** Another writer changes the Secret between our read and our write. */
  interfere = false;
  token: BootstrapToken | null;
  constructor(token: BootstrapToken | null) {
    this.token = token;
  }
  async read(): Promise<TokenRead> {
    this.reads++;
    await new Promise((r) => setTimeout(r, 5));
    return this.token ? { found: true, token: { ...this.token }, secret: { metadata: { resourceVersion: String(this.version) } } as V1Secret } : { found: false, why: 'absent' };
  }
  async countUses(read: Extract<TokenRead, { found: true }>, n: number): Promise<'counted' | 'conflict'> {
    if (this.interfere) this.version++;
    if (read.secret.metadata?.resourceVersion !== String(this.version)) return 'conflict';
    this.version++;
    this.token!.uses = read.token.uses + n;
    this.writes.push(n);
    return 'counted';
  }
}

const token: BootstrapToken = { tokenId: 'abcdef', secret: '0123456789abcdef', expiresAtMs: Date.now() + 3_600_000, maxUses: 3, uses: 0, allowReenrollment: false };
/** The part of decideEnrollment that counts: usable tokens count a use, others refuse. */
const decide = (t: BootstrapToken | null): EnrollDecision =>
  t && tokenState(t, Date.now()) === 'usable' ? { ok: true, countUse: true } : { ok: false, reason: CREDENTIAL_REFUSALS.tokenInvalid, detail: 'x' };
const outcome = (d: EnrollDecision) => (d.ok ? 'ok' : d.reason);

describe('token uses', () => {
  it('decides concurrent enrolments on one token against one read, counting each, and writes once', async () => {
    const store = new MemoryTokens({ ...token });
    const uses = new TokenUses({ tokens: store });
    // The first request starts a batch; the four arriving while it reads form the next one.
    const first = uses.decide('abcdef', decide);
    const rest = Array.from({ length: 4 }, () => uses.decide('abcdef', decide));
    expect((await Promise.all([first, ...rest])).map(outcome)).toEqual(['ok', 'ok', 'ok', 'TOKEN_INVALID', 'TOKEN_INVALID']);
    expect(store.token!.uses).toBe(3);
    expect({ reads: store.reads, writes: store.writes }).toEqual({ reads: 2, writes: [1, 2] });
  });

  it('refuses the counted ones as UNAVAILABLE when another writer wins the swap, and counts nothing', async () => {
    const store = new MemoryTokens({ ...token, maxUses: undefined });
    store.interfere = true;
    const uses = new TokenUses({ tokens: store });
    const got = await Promise.all([uses.decide('abcdef', decide), uses.decide('abcdef', decide)]);
    expect(got.map(outcome)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
    expect(store.token!.uses).toBe(0);
  });

  it('decides without a token when the Secret is absent, and writes nothing', async () => {
    const store = new MemoryTokens(null);
    const got = await new TokenUses({ tokens: store }).decide('abcdef', decide);
    expect(outcome(got)).toBe('TOKEN_INVALID');
    expect(store.writes).toEqual([]);
  });

  it('passes a failed read to every request of the batch', async () => {
    const store = new MemoryTokens({ ...token });
    store.read = async () => {
      throw new Error('apiserver down');
    };
    const uses = new TokenUses({ tokens: store });
    await expect(Promise.all([uses.decide('abcdef', decide), uses.decide('abcdef', decide)])).rejects.toThrow('apiserver down');
    // And the next request starts afresh.
    store.read = MemoryTokens.prototype.read.bind(store);
    expect(outcome(await uses.decide('abcdef', decide))).toBe('ok');
  });
});
