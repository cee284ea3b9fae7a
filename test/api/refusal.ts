// What the API server says when it refuses an object: the call must fail with 422 (Invalid),
// and its message names the field. Shared by the CRD validation suites.
import { ApiException } from '@kubernetes/client-node';
import { expect } from 'vitest';

/** The message of the 422 `fn` must fail with; throws when the API server accepted it. */
export async function refusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiException) {
      expect(err.code).toBe(422);
      return (JSON.parse(err.body as string) as { message: string }).message;
    }
    throw err;
  }
  throw new Error('the API server accepted it');
}
