import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isImageError } from './errors.ts';
import { listTar, normalizePath, writeTar, type TarEntry } from './tar.ts';

const entries: TarEntry[] = [
  { type: 'file', path: 'usr/bin/b', mode: 0o755, uid: 0, gid: 0, data: Buffer.from('#b\n') },
  { type: 'dir', path: 'home/nonroot', mode: 0o700, uid: 65532, gid: 65532 },
  { type: 'symlink', path: 'usr/bin/a', target: 'b', uid: 0, gid: 0 },
  { type: 'dir', path: 'usr', mode: 0o755, uid: 0, gid: 0 },
  { type: 'dir', path: 'usr/bin', mode: 0o755, uid: 0, gid: 0 },
  { type: 'dir', path: 'home', mode: 0o755, uid: 0, gid: 0 },
  { type: 'dir', path: 'tmp', mode: 0o1777, uid: 0, gid: 0 },
  { type: 'file', path: `opt/${'d'.repeat(120)}/${'f'.repeat(120)}`, mode: 0o644, uid: 0, gid: 0, data: Buffer.alloc(700, 1) },
  { type: 'symlink', path: 'opt/long-link', target: `/${'t'.repeat(150)}`, uid: 0, gid: 0 },
];

describe('writeTar', () => {
  it('writes the same bytes whatever the input order', () => {
    expect(writeTar(entries).equals(writeTar([...entries].reverse()))).toBe(true);
  });

  it('is read back by GNU tar with paths sorted, owners, modes, long names and the fixed mtime', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ep-tar-'));
    try {
      const file = join(dir, 'layer.tar');
      writeFileSync(file, writeTar(entries));
      const lines = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', file], { encoding: 'utf8' }).trim().split('\n');
      const paths = lines.map((l) => l.split(/\s+/).slice(5).join(' '));
      expect(paths[0]).toBe('home/');
      expect(paths).toContain('usr/bin/a -> b');
      expect(paths).toContain(`opt/${'d'.repeat(120)}/${'f'.repeat(120)}`);
      expect(paths).toContain(`opt/long-link -> /${'t'.repeat(150)}`);
      expect(lines.find((l) => l.endsWith('home/nonroot/'))).toMatch(/^drwx------ 65532\/65532 .* 1970-01-01 00:00:00 /);
      expect(lines.find((l) => l.endsWith('tmp/'))).toMatch(/^drwxrwxrwt 0\/0 /);
      const extracted = join(dir, 'x');
      execFileSync('mkdir', [extracted]);
      execFileSync('tar', ['-xf', file, '-C', extracted]);
      expect(execFileSync('cat', [join(extracted, 'usr/bin/a')], { encoding: 'utf8' })).toBe('#b\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists what it wrote', () => {
    const tar = writeTar(entries);
    const listed = listTar(tar);
    expect(listed.map((e) => e.path)).toEqual([...entries].map((e) => e.path).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const long = listed.find((e) => e.path.startsWith('opt/d'));
    expect(long?.size).toBe(700);
    expect(tar.subarray(long?.offset ?? 0, (long?.offset ?? 0) + 700).every((b) => b === 1)).toBe(true);
    expect(listed.find((e) => e.path === 'opt/long-link')?.target).toBe(`/${'t'.repeat(150)}`);
  });

  it('refuses a path given twice and paths that climb out', () => {
    const twice = () => writeTar([entries[0] as TarEntry, { ...(entries[0] as TarEntry), path: './usr/bin/b' }]);
    expect(twice).toThrow(/usr\/bin\/b appears twice/);
    try {
      normalizePath('usr/../../etc/passwd');
      expect.unreachable();
    } catch (err) {
      expect(isImageError(err) && err.code).toBe('TAR_PATH');
    }
  });

  it('names the field of a corrupt header', () => {
    const tar = writeTar(entries.slice(0, 1));
    tar.write('zz', 124, 'latin1');
    expect(() => listTar(tar)).toThrow(/field size is not octal/);
  });
});
