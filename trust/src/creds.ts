// Reading credentials files and JWT claims without trusting them: the server verifies
// signatures; a client reads only what it needs (expiry, tags) to know when to renew.
import { decode } from '@nats-io/jwt';

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

/** Claims of a user JWT, or null when it is not one. */
export function readUserJwt(jwt: string): UserClaimsView | null {
  try {
    const c = decode<{ tags?: string[]; type?: string }>(jwt);
    if (c.nats?.type !== 'user') return null;
    return { name: c.name, subject: c.sub, issuedAtS: c.iat, expiresAtS: c.exp ?? null, tags: c.nats.tags ?? [] };
  } catch {
    return null;
  }
}
