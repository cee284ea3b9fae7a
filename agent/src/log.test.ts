import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';

const SEED = `SU${'B'.repeat(56)}`;

describe('agent logger', () => {
  it('keeps credentials out of every line: fields, nested fields, URLs, errors, messages and bindings', () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (l: string) => void lines.push(l) }).child({ nats: 'nats://agent:bindpw@h:4222' });
    log.info({ natsUrl: 'nats://agent:pw1@h:4222', token: 'tok-1', auth: { password: 'pw2', seed: SEED }, headers: { authorization: 'Bearer abcdefgh' } }, 'connecting');
    log.warn({ err: new Error('cannot connect to Redis at redis://:pw3@h:6379') }, 'failed');
    log.error({ cause: new Error(`seed ${SEED} rejected`) }, 'with nats://u:pw4@h in the message');
    const out = lines.join('');
    for (const secret of ['bindpw', 'pw1', 'tok-1', 'pw2', SEED, 'abcdefgh', 'pw3', 'pw4']) expect(out, secret).not.toContain(secret);
    // What is not secret still reads.
    expect(out).toContain('nats://agent:***@h:4222');
    expect(out).toContain('redis://:***@h:6379');
    const err = JSON.parse(lines[1]!).err as { type: string; message: string; stack: string };
    expect(err.type).toBe('Error');
    expect(err.stack).toContain('redis://:***@h');
  });
});
