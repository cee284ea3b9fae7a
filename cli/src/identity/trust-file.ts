// The trust material file `edgeplane certs` writes, read by the commands that sign with it.
import { readFileSync } from 'node:fs';
import { parseTrustMaterial, type TrustMaterial } from '@edgeplane/trust';
import { IdentityError } from './errors.ts';

export function readTrustFile(path: string): TrustMaterial {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new IdentityError('TRUST_FILE', `--trust-file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'cannot read'}`, { cause });
  }
  try {
    return parseTrustMaterial(text);
  } catch (cause) {
    // The message names a field, never a seed.
    throw new IdentityError('TRUST_FILE', `--trust-file ${path}: ${(cause as Error).message}`, { cause });
  }
}
