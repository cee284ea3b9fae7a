// file:// artifacts are read only under directories the agent's configuration allows. An
// assignment comes from the fleet bus; without this check whoever can write one could make the
// agent read (and report on) any file it can open. `..` is resolved before the check, symlinks
// after it, and the path returned is the resolved one, so what is opened is what was checked.
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { ArtifactFetchError, FileUriNotAllowedError } from '../workloads/errors.ts';

const within = (path: string, root: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);

async function realOrNull(path: string): Promise<string | null> {
  try {
    return await realpath(path);
  } catch {
    return null;
  }
}

/**
 * The real path of `path` when it lies under one of `roots` (themselves resolved), else
 * FileUriNotAllowedError. A path outside every root is refused before the file system is
 * asked anything about it.
 */
export async function resolveAllowedFile(uri: string, path: string, roots: readonly string[]): Promise<string> {
  if (roots.length === 0) throw new FileUriNotAllowedError(uri, 'file:// artifacts are off (no file roots configured: --file-roots)');
  const lexical = resolve(path);
  const real = (await Promise.all(roots.map((r) => realOrNull(resolve(r))))).filter((r): r is string => r !== null);
  const lexicalRoots = roots.map((r) => resolve(r));
  if (!lexicalRoots.some((r) => within(lexical, r)) && !real.some((r) => within(lexical, r))) {
    throw new FileUriNotAllowedError(uri, 'outside the configured file roots');
  }
  let target: string;
  try {
    target = await realpath(lexical);
  } catch (cause) {
    throw new ArtifactFetchError(uri, (cause as NodeJS.ErrnoException).code ?? 'cannot resolve the path', 0, { cause });
  }
  // A symlink under a root may point anywhere: the resolved target must be under a root too.
  if (!real.some((r) => within(target, r))) throw new FileUriNotAllowedError(uri, 'resolves outside the configured file roots');
  return target;
}
