// Reading an account JWT a server holds, without trusting it beyond what the caller checks:
// the revocations it carries, so a new account JWT can keep them.
import { decode, type Account } from '@nats-io/jwt';
import type { Revocations } from './accounts.ts';

/** The revocations of an account JWT for this account, or null when it is not one. */
export function revocationsOfAccountJwt(jwt: string, accountPublicKey: string): Revocations | null {
  try {
    const claims = decode<Account>(jwt);
    if (claims.sub !== accountPublicKey || claims.nats?.type !== 'account') return null;
    return { ...(claims.nats.revocations ?? {}) };
  } catch {
    return null;
  }
}
