// The fleet account's JWT as nats-server holds it, read and replaced over the system account
// (`$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`, `$SYS.REQ.CLAIMS.UPDATE`). The server's full resolver
// keeps what was pushed, so the revocations live there and nowhere else. Everything else in
// that JWT (limits, signing keys and the node role's permissions, exports) is the control
// plane's to say: a server preloaded from an older `nats-trust.conf` is told the current one.
import { fleetAccountJwt, publicKey, revocationsOfAccountJwt, roles, type Revocations, type TrustMaterial } from '@edgeplane/trust';
import type { NatsConnection } from '@nats-io/transport-node';
import { AccountUpdateError } from '../errors.ts';

export interface AccountClaimsOptions {
  trust: TrustMaterial;
  /** A connection as the system user. */
  system: NatsConnection;
  timeoutMs?: number;
}

/** What the server holds for the fleet account. */
export interface FleetAccountState {
  revocations: Revocations;
  /**
   * How the rest of the server's JWT differs from what this control plane signs (e.g. `node
   * role permissions`); empty when it is the same.
   */
  drift: string[];
}

interface UpdateResponse {
  data?: { code?: number; message?: string };
  error?: { code?: number; description?: string };
}

export class FleetAccountClaims {
  readonly #o: AccountClaimsOptions;
  readonly #account: string;
  #wanted: Promise<string> | undefined;

  constructor(options: AccountClaimsOptions) {
    this.#o = options;
    this.#account = publicKey(options.trust.fleet);
  }

  /** The revocations in the account JWT the server holds now. */
  async revocations(): Promise<Revocations> {
    return (await this.current()).revocations;
  }

  /** The server's revocations, and how the rest of its JWT differs from this control plane's. */
  async current(): Promise<FleetAccountState> {
    let text: string;
    try {
      const msg = await this.#o.system.request(`$SYS.REQ.ACCOUNT.${this.#account}.CLAIMS.LOOKUP`, '', { timeout: this.#o.timeoutMs ?? 5000 });
      text = msg.string().trim();
    } catch (cause) {
      throw new AccountUpdateError(`cannot look up the fleet account: ${(cause as Error).message}`, { cause });
    }
    // Empty: the server has no JWT for the account (it was never pushed nor preloaded).
    if (!text) return { revocations: {}, drift: [NO_ACCOUNT_JWT] };
    const revocations = revocationsOfAccountJwt(text, this.#account);
    if (!revocations) throw new AccountUpdateError('the server answered the fleet account lookup with something that is not its account JWT');
    // Signed once: only the revocations (left out of the comparison) vary between pushes.
    this.#wanted ??= fleetAccountJwt(this.#o.trust).catch((err: unknown) => {
      this.#wanted = undefined;
      throw err;
    });
    return { revocations, drift: accountDrift(text, await this.#wanted) };
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

export const NO_ACCOUNT_JWT = 'no account JWT';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An account JWT's claims, unverified: the caller compares them, nothing more. */
function claimsOf(jwt: string): JsonObject | null {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Json;
    return isObject(claims) && isObject(claims.nats) ? claims : null;
  } catch {
    return null;
  }
}

/** Deep equality of JSON values; object key order does not matter, array order does. */
function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => sameJson(a[k], b[k]));
}

const isNodeRole = (k: Json) => isObject(k) && k.role === roles.node;

/**
 * What differs between the account JWT a server holds and the one this control plane signs,
 * apart from revocations (the server's to keep) and the claims every signing changes (issued
 * at, id, signer). Named by part: `node role permissions`, `signing keys`, `name`, or the
 * account claim that differs (`limits`, `exports`, ...). Empty when they agree.
 */
export function accountDrift(held: string, wanted: string): string[] {
  const w = claimsOf(wanted);
  if (!w) throw new TypeError('accountDrift: the wanted JWT is not an account JWT');
  const h = claimsOf(held);
  if (!h) return ['not an account JWT'];
  const out: string[] = [];
  if (!sameJson(h.name, w.name)) out.push('name');
  const hn = h.nats as JsonObject;
  const wn = w.nats as JsonObject;
  const keys = new Set([...Object.keys(hn), ...Object.keys(wn)]);
  for (const key of [...keys].sort()) {
    if (key === 'revocations') continue;
    if (key === 'signing_keys') {
      const hk = Array.isArray(hn[key]) ? hn[key] : [];
      const wk = Array.isArray(wn[key]) ? wn[key] : [];
      const hNode = hk.find(isNodeRole);
      const wNode = wk.find(isNodeRole);
      if (!sameJson(isObject(hNode) ? hNode.template : undefined, isObject(wNode) ? wNode.template : undefined)) out.push('node role permissions');
      // The rest of the keys, the node role's key and role without its template.
      const bare = (ks: Json[]) => ks.map((k) => (isObject(k) && isNodeRole(k) ? { ...k, template: null } : k));
      if (!sameJson(bare(hk), bare(wk))) out.push('signing keys');
      continue;
    }
    if (!sameJson(hn[key], wn[key])) out.push(key);
  }
  return out;
}
