// Outputs appear whole or not at all: written into a temporary sibling folder and renamed
// into place at the end; on failure the temporary folder is removed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelError } from './errors.ts';

export async function writeDirAtomically<T>(target: string, options: { force?: boolean }, write: (tmp: string) => Promise<T>): Promise<T> {
  const out = resolve(target);
  if (existsSync(out) && readdirSync(out).length > 0 && !options.force) {
    throw new ModelError('OUTPUT_EXISTS', `${target} exists and is not empty (pass --force to replace it)`);
  }
  mkdirSync(dirname(out), { recursive: true });
  const tmp = mkdtempSync(join(dirname(out), `.${basename(out)}.tmp-`));
  try {
    const result = await write(tmp);
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    return result;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
