// Debian packages as image content: `apt-get download` into a cache (one .deb per package,
// kept until deleted, so a rebuild uses the same versions and needs no network), unpacked
// once with `dpkg-deb -x`, read back as tar entries. No maintainer script ever runs.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from './errors.ts';
import type { TarEntry } from './tar.ts';

export interface DebPackage {
  name: string;
  version: string;
  file: string;
  /** Directory it is unpacked in. */
  root: string;
}

function cachedDeb(dir: string, name: string, arch: string): string | undefined {
  const found = readdirSync(dir).filter((f) => f.startsWith(`${name}_`) && (f.endsWith(`_${arch}.deb`) || f.endsWith('_all.deb')));
  return found.sort().at(-1);
}

/** Downloads what the cache lacks (one apt-get call), then unpacks what is not unpacked yet. */
export function fetchPackages(names: readonly string[], arch: string, cache: string, log: (line: string) => void): DebPackage[] {
  const debs = join(cache, 'debs', arch);
  const unpacked = join(cache, 'unpacked', arch);
  mkdirSync(debs, { recursive: true });
  mkdirSync(unpacked, { recursive: true });
  const missing = names.filter((n) => !cachedDeb(debs, n, arch));
  if (missing.length > 0) {
    log(`downloading ${missing.length} Debian packages: ${missing.join(' ')}`);
    const qualified = missing.map((n) => (arch === 'amd64' ? n : `${n}:${arch}`));
    try {
      execFileSync('apt-get', ['download', '-q', ...qualified], { cwd: debs, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new ImageError('DEB_DOWNLOAD', `apt-get download ${qualified.join(' ')} failed: ${stderr.trim() || (err as Error).message}`);
    }
  }
  return names.map((name) => {
    const file = cachedDeb(debs, name, arch);
    if (!file) throw new ImageError('DEB_DOWNLOAD', `package ${name} (${arch}) is not in ${debs} after apt-get download`);
    const version = decodeURIComponent(file.split('_')[1] ?? '');
    const root = join(unpacked, file.replace(/\.deb$/, ''));
    if (!existsSync(join(root, '.unpacked'))) {
      const tmp = `${root}.tmp`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      try {
        execFileSync('dpkg-deb', ['-x', join(debs, file), tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        throw new ImageError('DEB_EXTRACT', `dpkg-deb -x ${file} failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message}`);
      }
      writeFileSync(join(tmp, '.unpacked'), '');
      rmSync(root, { recursive: true, force: true });
      renameSync(tmp, root);
    }
    return { name, version, file, root };
  });
}

/**
 * Tar entries of a directory tree (root-owned; modes as on disk), paths relative to `root`
 * and filtered by `keep` before any file is read. Hard links become copies.
 */
export function readTree(root: string, keep: (path: string) => boolean, prefix = ''): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (path === '.unpacked') continue;
      const target = prefix ? `${prefix}/${path}` : path;
      if (!keep(target)) continue;
      const abs = join(root, path);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out.push({ type: 'symlink', path: target, target: readlinkSync(abs), uid: 0, gid: 0 });
      else if (st.isDirectory()) {
        out.push({ type: 'dir', path: target, mode: st.mode & 0o7777, uid: 0, gid: 0 });
        walk(path);
      } else if (st.isFile()) out.push({ type: 'file', path: target, mode: st.mode & 0o7777, uid: 0, gid: 0, data: readFileSync(abs) });
    }
  };
  walk('');
  return out;
}
