import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caPath, credsPath, readCa, readCredentials, saveCa, saveCredentials, writeFileAtomic } from './creds-store.ts';
import { isCredentialsError } from './errors.ts';
import { testCredential } from './test-credentials.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ep-creds-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

describe('credential store', () => {
  it('writes nats.creds with mode 0600 whatever the umask, and reads it back', async () => {
    const c = await testCredential({ node: 'gw-a', tags: ['serve:ns.d'] });
    const old = process.umask(0);
    try {
      await saveCredentials(join(dir, 'state'), c.jwt, c.seed);
    } finally {
      process.umask(old);
    }
    const file = credsPath(join(dir, 'state'));
    expect(await modeOf(file)).toBe(0o600);
    expect(await modeOf(join(dir, 'state'))).toBe(0o700);
    const back = await readCredentials(file);
    expect(back).toMatchObject({ jwt: c.jwt, seed: c.seed, file, tightened: false });
    expect(back?.claims).toMatchObject({ name: 'gw-a', subject: c.publicKey, tags: ['serve:ns.d'] });
  });

  it('replaces the file atomically: the new content whole, no temp file left behind', async () => {
    const a = await testCredential({ node: 'gw-a' });
    const b = await testCredential({ node: 'gw-a', seed: a.seed, tags: ['serve:x.y'] });
    await saveCredentials(dir, a.jwt, a.seed);
    await saveCredentials(dir, b.jwt, b.seed);
    expect((await readCredentials(credsPath(dir)))?.jwt).toBe(b.jwt);
    expect(await readdir(dir)).toEqual(['nats.creds']);
    expect(await modeOf(credsPath(dir))).toBe(0o600);
  });

  it('never shows a reader half a file while it is replaced', async () => {
    const file = join(dir, 'big');
    const a = 'a'.repeat(512 * 1024);
    const b = 'b'.repeat(256 * 1024);
    await writeFileAtomic(file, a, 0o600);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 30; i++) await writeFileAtomic(file, i % 2 ? a : b, 0o600);
      writing = false;
    })();
    const seen = new Set<string>();
    while (writing) {
      const text = await readFile(file, 'utf8');
      seen.add(text === a ? 'a' : text === b ? 'b' : `torn:${text.length}`);
    }
    await writer;
    expect([...seen].filter((s) => s.startsWith('torn'))).toEqual([]);
  });

  it('removes its temp file when the rename fails', async () => {
    const target = join(dir, 'occupied');
    await mkdir(join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'x', 0o600)).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['occupied']);
  });

  it('is null when there is no file, and tightens one readable by others', async () => {
    expect(await readCredentials(credsPath(dir))).toBeNull();
    const a = await testCredential({ node: 'gw-a' });
    await writeFile(credsPath(dir), a.text, { mode: 0o644 });
    await chmod(credsPath(dir), 0o644);
    expect((await readCredentials(credsPath(dir)))?.tightened).toBe(true);
    expect(await modeOf(credsPath(dir))).toBe(0o600);
  });

  const bad = [
    { name: 'not a creds file', text: 'hello' },
    { name: 'a JWT that is no user JWT', text: '-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ.eyJmb28iOjF9.sig\n------END NATS USER JWT------\n-----BEGIN USER NKEY SEED-----\nSUAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n------END USER NKEY SEED------\n' },
  ];
  for (const b of bad) {
    it(`refuses ${b.name} with a typed error naming the file and no secret`, async () => {
      const file = join(dir, 'x.creds');
      await writeFile(file, b.text, { mode: 0o600 });
      const err = await readCredentials(file).catch((e: unknown) => e);
      expect(isCredentialsError(err)).toBe(true);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).not.toMatch(/SU[A-Z2-7]{10}/);
    });
  }

  it('keeps the pinned CA beside it', async () => {
    expect(await readCa(dir)).toBeNull();
    await saveCa(dir, 'PEM');
    expect(await readCa(dir)).toBe('PEM');
    expect(await readFile(caPath(dir), 'utf8')).toBe('PEM');
  });
});
