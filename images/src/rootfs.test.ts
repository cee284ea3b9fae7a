import { describe, expect, it } from 'vitest';
import { caBundle, keepPackagePath, mergeRoot, systemFiles } from './rootfs.ts';
import type { TarEntry } from './tar.ts';

describe('distroless root', () => {
  it('keeps libraries, time zones and copyright notices; drops docs, man pages and init scripts', () => {
    expect(keepPackagePath('lib/x86_64-linux-gnu/libc.so.6')).toBe(true);
    expect(keepPackagePath('usr/share/zoneinfo/Europe/Paris')).toBe(true);
    expect(keepPackagePath('usr/share/doc/libc6/copyright')).toBe(true);
    expect(keepPackagePath('usr/share/doc/libc6')).toBe(true);
    expect(keepPackagePath('usr/share/doc/libc6/changelog.Debian.gz')).toBe(false);
    expect(keepPackagePath('usr/share/man/man1/redis-server.1.gz')).toBe(false);
    expect(keepPackagePath('etc/init.d/redis-server')).toBe(false);
    expect(keepPackagePath('lib/systemd/system/redis-server.service')).toBe(false);
  });

  it('has accounts without a shell and nonroot 65532', () => {
    const passwd = systemFiles().find((e) => e.path === 'etc/passwd');
    const text = passwd?.type === 'file' ? Buffer.from(passwd.data).toString() : '';
    expect(text).toContain('nonroot:x:65532:65532:');
    expect(text).not.toMatch(/\/bin\/(ba)?sh/);
  });

  it('bundles certificates in name order, each ending in a newline', () => {
    const bundle = caBundle([
      { name: 'mozilla/B.crt', data: Buffer.from('B') },
      { name: 'mozilla/A.crt', data: Buffer.from('A\n') },
    ]);
    expect(bundle.toString()).toBe('A\nB\n');
    expect(() => caBundle([])).toThrow(/no certificate/);
  });

  it('merges roots: parents added, directories once, conflicting files refused', () => {
    const f = (path: string, text: string): TarEntry => ({ type: 'file', path, mode: 0o644, uid: 0, gid: 0, data: Buffer.from(text) });
    const merged = mergeRoot([[f('usr/lib/a', 'x')], [{ type: 'dir', path: 'usr', mode: 0o700, uid: 0, gid: 0 }, f('usr/lib/a', 'x')]]);
    expect(merged.map((e) => e.path).sort()).toEqual(['usr', 'usr/lib', 'usr/lib/a']);
    expect(() => mergeRoot([[f('usr/lib/a', 'x')], [f('usr/lib/a', 'y')]])).toThrow(/usr\/lib\/a is given twice/);
    expect(() => mergeRoot([[f('usr', 'x')], [f('usr/lib/a', 'y')]])).toThrow(/parent usr is a file/);
  });
});
