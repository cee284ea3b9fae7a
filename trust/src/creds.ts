// Reading credentials files and JWT claims without trusting them: the server verifies
// signatures; a client reads only what it needs (expiry, tags) to know when to renew.
import { nativeVerify } from './native-nkeys.ts';

const CREDS_JWT = /-----BEGIN NATS USER JWT-----\s*([A-Za-z0-9_.-]+)\s*------END NATS USER JWT------/;
const CREDS_SEED = /-----BEGIN USER NKEY SEED-----\s*(SU[A-Z2-7]+)\s*------END USER NKEY SEED------/;

export interface ParsedCreds {
  jwt: string;
  seed: string;
}

export function parseCredsFile(text: string): ParsedCreds | null {
  const jwt = CREDS_JWT.exec(text)?.[1];
  const seed = CREDS_SEED.exec(text)?.[1];
  return jwt && seed ? { jwt, seed } : null;
}

export interface UserClaimsView {
  name: string;
  subject: string;
  issuedAtS: number;
  expiresAtS: number | null;
  tags: string[];
}

interface UserClaims {
  name: string;
  sub: string;
  iat: number;
  exp?: number;
  iss: string;
  nats?: { type?: string; tags?: string[] };
}

const ALG_V1 = 'ed25519';
const ALG_V2 = 'ed25519-nkey';

/**
 * The claims of a NATS JWT whose signature verifies with its issuer's key, as @nats-io/jwt's
 * decode checks it, with Node's native ed25519 (decode's JavaScript one costs ~10 ms a JWT,
 * more than the rest of an agent's enrolment); null for anything else.
 */
function verifiedClaims(jwt: string): UserClaims | null {
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  const [head, body, sig] = parts as [string, string, string];
  try {
    const h = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { typ?: unknown; alg?: unknown };
    if ((h.typ !== 'jwt' && h.typ !== 'JWT') || (h.alg !== ALG_V1 && h.alg !== ALG_V2)) return null;
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as UserClaims;
    if (typeof claims?.iss !== 'string') return null;
    const signed = new TextEncoder().encode(h.alg === ALG_V2 ? `${head}.${body}` : body);
    return nativeVerify(claims.iss, signed, Buffer.from(sig, 'base64url')) ? claims : null;
  } catch {
    return null;
  }
}

/** Claims of a user JWT, or null when it is not one (or its signature does not verify). */
export function readUserJwt(jwt: string): UserClaimsView | null {
  const c = verifiedClaims(jwt);
  if (!c || c.nats?.type !== 'user') return null;
  return { name: c.name, subject: c.sub, issuedAtS: c.iat, expiresAtS: c.exp ?? null, tags: c.nats.tags ?? [] };
}
