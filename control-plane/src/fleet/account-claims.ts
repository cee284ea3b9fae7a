// The fleet account's JWT as nats-server holds it, read and replaced over the system account
// (`$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`, `$SYS.REQ.CLAIMS.UPDATE`). The server's full resolver
// keeps what was pushed, so the revocations live there and nowhere else.
import { fleetAccountJwt, publicKey, revocationsOfAccountJwt, type Revocations, type TrustMaterial } from '@edgeplane/trust';
import type { NatsConnection } from '@nats-io/transport-node';
import { AccountUpdateError } from '../errors.ts';

export interface AccountClaimsOptions {
  trust: TrustMaterial;
  /** A connection as the system user. */
  system: NatsConnection;
  timeoutMs?: number;
}

interface UpdateResponse {
  data?: { code?: number; message?: string };
  error?: { code?: number; description?: string };
}

export class FleetAccountClaims {
  readonly #o: AccountClaimsOptions;
  readonly #account: string;

  constructor(options: AccountClaimsOptions) {
    this.#o = options;
    this.#account = publicKey(options.trust.fleet);
  }

  /** The revocations in the account JWT the server holds now. */
  async revocations(): Promise<Revocations> {
    let text: string;
    try {
      const msg = await this.#o.system.request(`$SYS.REQ.ACCOUNT.${this.#account}.CLAIMS.LOOKUP`, '', { timeout: this.#o.timeoutMs ?? 5000 });
      text = msg.string().trim();
    } catch (cause) {
      throw new AccountUpdateError(`cannot look up the fleet account: ${(cause as Error).message}`, { cause });
    }
    // Empty: the server has no JWT for the account (it was never pushed nor preloaded).
    if (!text) return {};
    const revocations = revocationsOfAccountJwt(text, this.#account);
    if (!revocations) throw new AccountUpdateError('the server answered the fleet account lookup with something that is not its account JWT');
    return revocations;
  }

  /** Replaces the account JWT with one carrying exactly these revocations. */
  async push(revocations: Revocations): Promise<void> {
    const jwt = await fleetAccountJwt(this.#o.trust, revocations);
    let response: UpdateResponse;
    try {
      const msg = await this.#o.system.request('$SYS.REQ.CLAIMS.UPDATE', jwt, { timeout: this.#o.timeoutMs ?? 5000 });
      response = msg.json<UpdateResponse>();
    } catch (cause) {
      throw new AccountUpdateError(`the fleet account update was not answered: ${(cause as Error).message}`, { cause });
    }
    if (response.error || response.data?.code !== 200) {
      throw new AccountUpdateError(`nats-server refused the fleet account update: ${response.error?.description ?? response.data?.message ?? 'no status'}`);
    }
  }
}
