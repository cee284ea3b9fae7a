import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { materialiseDashboard } from './materialise.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const parent = () => {
  const d = mkdtempSync(join(tmpdir(), 'ep-dash-'));
  dirs.push(d);
  return d;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('materialiseDashboard', () => {
  it('writes the embedded files once into a directory named by their hash', () => {
    const under = parent();
    const embedded = { hash: 'abcdef0123456789ffff', files: { 'index.html': b64('<!doctype html>'), 'app-X.js': b64('1') } };
    const dir = materialiseDashboard(embedded, under);
    expect(dir).toBe(join(under, 'edgeplane-dashboard-abcdef0123456789'));
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe('<!doctype html>');
    // A second start finds the directory and writes nothing.
    writeFileSync(join(dir, 'app-X.js'), 'kept');
    expect(materialiseDashboard(embedded, under)).toBe(dir);
    expect(readFileSync(join(dir, 'app-X.js'), 'utf8')).toBe('kept');
  });

  it('refuses a name that leaves its directory', () => {
    expect(() => materialiseDashboard({ hash: '0'.repeat(16), files: { 'index.html': '', '../evil': b64('x') } }, parent())).toThrow(/leaves its directory/);
  });
});
