// Reads files under a root directory ('/' on a real host, a fixture tree in tests), as
// node-feature-discovery does. Missing files are normal on most hosts, so every reader
// returns null or an empty list instead of throwing.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface RootFs {
  readonly root: string;
  /** File contents with trailing whitespace and NUL bytes removed (device-tree strings end in NUL), or null. */
  text(path: string): Promise<string | null>;
  /** Entry names of a directory, sorted, or [] when it does not exist. */
  list(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  isDirectory(path: string): Promise<boolean>;
}

export function rootFs(root: string): RootFs {
  const at = (path: string) => join(root, path);
  return {
    root,
    async text(path) {
      try {
        return (await readFile(at(path), 'utf8')).replace(/[\s\0]+$/, '');
      } catch {
        return null;
      }
    },
    async list(path) {
      try {
        return (await readdir(at(path))).sort();
      } catch {
        return [];
      }
    },
    async exists(path) {
      try {
        await stat(at(path));
        return true;
      } catch {
        return false;
      }
    },
    async isDirectory(path) {
      try {
        return (await stat(at(path))).isDirectory();
      } catch {
        return false;
      }
    },
  };
}
