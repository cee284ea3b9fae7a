// Which enrolment failures wait for an operator and which are retried soon.
import { CREDENTIAL_REFUSALS } from '@edgeplane/api';
import { describe, expect, it } from 'vitest';
import { enrollFailure, type EnrollFailure } from './enroll.ts';
import { EnrollRefusedError, EnrollUnavailableError } from './errors.ts';

describe('enrollFailure', () => {
  const rows: { name: string; err: unknown; want: EnrollFailure }[] = [
    { name: 'busy or Kubernetes away (UNAVAILABLE, come back after 1 s)', err: new EnrollRefusedError(CREDENTIAL_REFUSALS.unavailable, 1000), want: 'deferred' },
    { name: 'UNAVAILABLE without a delay', err: new EnrollRefusedError(CREDENTIAL_REFUSALS.unavailable), want: 'deferred' },
    { name: 'a used-up or unknown token', err: new EnrollRefusedError(CREDENTIAL_REFUSALS.tokenInvalid), want: 'refused' },
    { name: 'a name outside the pattern', err: new EnrollRefusedError(CREDENTIAL_REFUSALS.nodeNotAllowed), want: 'refused' },
    { name: 'a reply for another key', err: new EnrollRefusedError('REPLY_FOR_ANOTHER_KEY'), want: 'refused' },
    { name: 'no answer', err: new EnrollUnavailableError('no responders'), want: 'unanswered' },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.want}`, () => expect(enrollFailure(row.err)).toBe(row.want));
  }
});
