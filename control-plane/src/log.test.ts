import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';

describe('control-plane logger', () => {
  it('keeps credentials out of every line, with the component and instance kept', () => {
    const lines: string[] = [];
    const log = createLogger('info', 'cp-1', { write: (l: string) => void lines.push(l) });
    log.info({ redis: 'redis://:hunter2@10.0.0.1:6379', jwt: 'eyJhbGciOi.eyJzdWIi.sig', req: { headers: { authorization: 'Bearer t0ps3cret' } } }, 'started');
    log.error({ err: new Error('cannot connect to NATS at nats://cp:natspw@nats:4222: timeout') }, 'fatal');
    const out = lines.join('');
    for (const secret of ['hunter2', 'eyJhbGciOi', 't0ps3cret', 'natspw']) expect(out, secret).not.toContain(secret);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'control-plane', instance: 'cp-1', redis: 'redis://:***@10.0.0.1:6379' });
  });
});
