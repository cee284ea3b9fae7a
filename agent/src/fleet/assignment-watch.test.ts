import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { announced, caughtUp } from './assignment-watch.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('announced', () => {
  it('reads the issue time of a written value', () => {
    expect(announced({ headers: undefined, data: enc('{"v":1,"node":"a","workloads":[],"issuedAtMs":42}') })).toEqual({ removed: false, issuedAtMs: 42 });
  });

  it('takes a delete or purge marker as a removal', () => {
    for (const op of ['DEL', 'PURGE']) {
      const h = headers();
      h.set('KV-Operation', op);
      expect(announced({ headers: h, data: new Uint8Array(0) })).toEqual({ removed: true });
    }
  });

  it('announces nothing for bytes that are not an assignment', () => {
    expect(announced({ headers: undefined, data: enc('not json') })).toBeNull();
    expect(announced({ headers: undefined, data: enc('{"issuedAtMs":"soon"}') })).toBeNull();
  });
});

describe('caughtUp', () => {
  it('needs a value issued no earlier than announced', () => {
    expect(caughtUp({ removed: false, issuedAtMs: 10 }, { removed: false, issuedAtMs: 9 })).toBe(false);
    expect(caughtUp({ removed: false, issuedAtMs: 10 }, { removed: false, issuedAtMs: 10 })).toBe(true);
    expect(caughtUp({ removed: false, issuedAtMs: 10 }, { removed: true, issuedAtMs: 99 })).toBe(false);
  });

  it('needs a removal when one was announced', () => {
    expect(caughtUp({ removed: true }, { removed: false, issuedAtMs: 99 })).toBe(false);
    expect(caughtUp({ removed: true }, { removed: true, issuedAtMs: 0 })).toBe(true);
  });
});
