// The join token `edgeplane token create` prints: `<id>.<secret>::<bootstrap JWT>` (the
// patterns are @edgeplane/api's; this parser says which part is wrong). The id
// names the token (and the bootstrap user's inbox), the secret proves the operator gave it to
// this agent, and the JWT is the bearer credential nats-server accepts until the token expires.
import { JwtText, TOKEN_ID_PATTERN, TOKEN_SECRET_PATTERN } from '@edgeplane/api';
import { readUserJwt } from '@edgeplane/trust';
import { JoinTokenError } from './errors.ts';

export interface JoinToken {
  /** 6 characters [a-z0-9]. */
  id: string;
  /** `<id>.<secret>`, as the enrolment request carries it. */
  token: string;
  /** The bootstrap user's bearer JWT. */
  jwt: string;
  /** When nats-server stops accepting the bootstrap JWT (unix s), if it says. */
  expiresAtS: number | null;
}

const MAX_CHARS = 16 * 1024;

/** Parses a join token; errors name the part that is wrong, never a secret. */
export function parseJoinToken(text: string): JoinToken {
  const s = text.trim();
  if (s.length === 0) throw new JoinTokenError('token', 'is empty');
  if (s.length > MAX_CHARS) throw new JoinTokenError('token', `is longer than ${MAX_CHARS} characters`);
  const sep = s.indexOf('::');
  if (sep < 0) throw new JoinTokenError('token', 'must be <id>.<secret>::<jwt>, as edgeplane token create prints it');
  const pair = s.slice(0, sep);
  const jwt = s.slice(sep + 2);
  const dot = pair.indexOf('.');
  const id = dot < 0 ? pair : pair.slice(0, dot);
  const secret = dot < 0 ? '' : pair.slice(dot + 1);
  if (!TOKEN_ID_PATTERN.test(id)) throw new JoinTokenError('id', 'must be 6 characters a-z, 0-9');
  if (!TOKEN_SECRET_PATTERN.test(secret)) throw new JoinTokenError('secret', 'must be 16 characters a-z, 0-9');
  const claims = JwtText.safeParse(jwt).success ? readUserJwt(jwt) : null;
  if (!claims) throw new JoinTokenError('jwt', 'is not a NATS user JWT');
  return { id, token: `${id}.${secret}`, jwt, expiresAtS: claims.expiresAtS };
}
