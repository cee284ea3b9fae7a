// Which node keys the fleet account revokes, as pure functions: merge what must be revoked into
// what the server holds, prune what no longer revokes anything, check that a push took.
import type { NodeIdentity } from '@edgeplane/api';
import { pruneRevocations, type Revocations } from '@edgeplane/trust';
import { NODE_CREDENTIAL_TTL_BOUNDS_MS } from '../config.ts';

/**
 * How long a revocation is kept, s: past the longest lifetime any node credential can have, so
 * every JWT it could refuse has expired by then (a later change of the TTL setting included).
 */
export const REVOCATION_RETENTION_S = NODE_CREDENTIAL_TTL_BOUNDS_MS.max / 1000 + 3600;

export interface RevocationWant {
  /** JWTs for the key issued at or before this time (unix s) are refused. */
  atS: number;
  /**
   * Level-based wants (a revoke marker seen on resync) only add a key not revoked yet; an event
   * (delete, marker set, key replaced) raises the time, so a credential issued since is refused too.
   */
  ifMissing: boolean;
}

/** The account's revocations after the wants, pruned. */
export function applyRevocations(current: Revocations, wants: ReadonlyMap<string, RevocationWant>, nowS: number, retentionS = REVOCATION_RETENTION_S): Revocations {
  const out: Revocations = { ...current };
  for (const [key, want] of wants) {
    const have = out[key];
    if (have === undefined) out[key] = want.atS;
    else if (!want.ifMissing) out[key] = Math.max(have, want.atS);
  }
  return pruneRevocations(out, nowS, retentionS);
}

/** Keys whose want the account does not meet (a push the server ignored, or lost). */
export function unmetWants(revocations: Revocations, wants: ReadonlyMap<string, RevocationWant>): string[] {
  return [...wants].filter(([key, want]) => revocations[key] === undefined || (!want.ifMissing && revocations[key] < want.atS)).map(([key]) => key);
}

export function sameRevocations(a: Revocations, b: Revocations): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Keys of nodes that carry the revoke marker (level-based: every resync revokes them all again). */
export function markedKeys(nodes: Iterable<NodeIdentity>): string[] {
  const out: string[] = [];
  for (const n of nodes) if (n.revoked && n.publicKey) out.push(n.publicKey);
  return out;
}
