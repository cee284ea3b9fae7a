import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHelloReply, isHelloReplyError } from './hello-reply.ts';

const configured = { assignmentsBucket: 'ep-assignments', modelsBucket: 'ep-models' };
const reply = { v: 1, accepted: true, heartbeatIntervalMs: 5000, fullEvery: 12 };

describe('checkHelloReply', () => {
  const refused: Array<{ name: string; value: unknown; field: string }> = [
    { name: 'a 1 ms interval', value: { ...reply, heartbeatIntervalMs: 1 }, field: 'heartbeatIntervalMs' },
    { name: 'a negative interval', value: { ...reply, heartbeatIntervalMs: -5 }, field: 'heartbeatIntervalMs' },
    { name: 'an interval of a week', value: { ...reply, heartbeatIntervalMs: 604_800_000 }, field: 'heartbeatIntervalMs' },
    { name: 'a fractional interval', value: { ...reply, heartbeatIntervalMs: 150.5 }, field: 'heartbeatIntervalMs' },
    { name: 'fullEvery of a million', value: { ...reply, fullEvery: 1_000_000 }, field: 'fullEvery' },
    { name: 'fullEvery 0', value: { ...reply, fullEvery: 0 }, field: 'fullEvery' },
    { name: 'a bucket that is a subject wildcard', value: { ...reply, assignmentsBucket: '>' }, field: 'assignmentsBucket' },
  ];
  for (const row of refused) {
    it(`refuses ${row.name} with a typed error naming ${row.field}`, () => {
      const r = checkHelloReply(JSON.stringify(row.value), configured);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(isHelloReplyError(r.error)).toBe(true);
      expect(r.error.code).toBe('HELLO_REPLY_INVALID');
      expect(r.error.issues.map((i) => i.path)).toContain(row.field);
    });
  }

  it('keeps the configured buckets whatever the reply names, and says which it ignored', () => {
    const r = checkHelloReply(JSON.stringify({ ...reply, assignmentsBucket: 'someone-elses', modelsBucket: 'ep-models' }), configured);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.reply.assignmentsBucket).toBe('ep-assignments');
    expect(r.reply.modelsBucket).toBe('ep-models');
    expect(r.ignored).toEqual([{ field: 'assignmentsBucket', replied: 'someone-elses', configured: 'ep-assignments' }]);
  });

  it('accepts a reply without bucket names (they are optional on the wire)', () => {
    const r = checkHelloReply(JSON.stringify(reply), { assignmentsBucket: 'site-a-assignments', modelsBucket: 'site-a-models' });
    expect(r.ok && r.reply).toMatchObject({ heartbeatIntervalMs: 5000, fullEvery: 12, assignmentsBucket: 'site-a-assignments', modelsBucket: 'site-a-models' });
    expect(r.ok && r.ignored).toEqual([]);
  });

  it('never throws, and an accepted reply is always within bounds with the configured buckets', () => {
    const field = fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.constant(undefined));
    fc.assert(
      fc.property(fc.record({ heartbeatIntervalMs: field, fullEvery: field, assignmentsBucket: field, accepted: fc.boolean() }), fc.jsonValue({ maxDepth: 3 }), (fields, extra) => {
        const r = checkHelloReply(JSON.stringify({ v: 1, extra, ...fields }), configured);
        if (!r.ok) {
          expect(isHelloReplyError(r.error)).toBe(true);
          return;
        }
        expect(r.reply.heartbeatIntervalMs).toBeGreaterThanOrEqual(100);
        expect(r.reply.heartbeatIntervalMs).toBeLessThanOrEqual(600_000);
        expect(r.reply.fullEvery).toBeGreaterThanOrEqual(1);
        expect(r.reply.fullEvery).toBeLessThanOrEqual(1000);
        expect(r.reply.assignmentsBucket).toBe('ep-assignments');
      }),
      { numRuns: 300 },
    );
  });
});
