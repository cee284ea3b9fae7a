// The demo fleet's model-signing key, made once into the cache beside the quantized variants,
// as an operator would with `edgeplane model keygen`; every variant is signed with it before
// it is deployed, and the agents run requiring signatures from it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '@edgeplane/env';
import { generateKeyPair, loadPrivateKey } from '../../cli/src/model/sign/keys.ts';
import { PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from '../../cli/src/model/sign/command.ts';
import { encodeSignature, signFile } from '../../cli/src/model/sign/signature.ts';
import { readManifest } from '../../cli/src/model/manifest.ts';

export const SIGNING_DIR = join(cacheDir, 'models', 'signing');
/** A local demo key: it protects nothing beyond this cache, so it has an empty password. */
const DEMO_PASSWORD = '';

export interface SigningKey {
  privateKey: string;
  publicKey: string;
}

let pending: Promise<SigningKey> | null = null;

/** The key pair under SIGNING_DIR, made on first use; concurrent callers share one. */
export function signingKey(): Promise<SigningKey> {
  pending ??= (async () => {
    const key = { privateKey: join(SIGNING_DIR, PRIVATE_KEY_FILE), publicKey: join(SIGNING_DIR, PUBLIC_KEY_FILE) };
    if (!existsSync(key.privateKey) || !existsSync(key.publicKey)) {
      const pair = await generateKeyPair(DEMO_PASSWORD);
      mkdirSync(SIGNING_DIR, { recursive: true });
      writeFileSync(key.privateKey, pair.privatePem, { mode: 0o600 });
      writeFileSync(key.publicKey, pair.publicPem);
    }
    return key;
  })();
  return pending;
}

/** The agent flags that make it load only what this key signed. */
export async function requireSignatureArgs(): Promise<string[]> {
  return ['--require-signature', '--trust-public-key', (await signingKey()).publicKey];
}

/** Signature (base64, as `edgeplane model sign` prints it) of each variant in a quantized folder, by name. */
export async function signVariants(dir: string): Promise<Map<string, string>> {
  const key = await loadPrivateKey(readFileSync((await signingKey()).privateKey, 'utf8'), DEMO_PASSWORD);
  const out = new Map<string, string>();
  for (const v of readManifest(dir).variants) out.set(v.name, encodeSignature(await signFile(join(dir, v.file), key)));
  return out;
}
