// `edgeplane model keygen | sign | verify`: argument parsing and output only; the work lives
// in keys.ts, cosign-key.ts and signature.ts. The password of an encrypted key comes from
// COSIGN_PASSWORD, as it does for cosign, so one key and one environment serve both tools.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CommandIO } from '../../command.ts';
import { ModelError } from '../errors.ts';
import { generateKeyPair, loadPrivateKey, loadPublicKey } from './keys.ts';
import { decodeSignature, encodeSignature, signFile, verifyFile } from './signature.ts';

export const PRIVATE_KEY_FILE = 'cosign.key';
export const PUBLIC_KEY_FILE = 'cosign.pub';
/** Key and signature files are small; anything larger is not one. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

export const SIGN_USAGE = `  keygen --out <dir> [--force]
      an ECDSA P-256 key pair: cosign.key (cosign's encrypted format, password from COSIGN_PASSWORD,
      empty allowed) and cosign.pub (PEM public key)
  sign --key <cosign.key|key.pem> <artifact> [--output <file>]
      the base64 ECDSA-SHA256 signature of the artifact's bytes, as \`cosign sign-blob --key\` prints it;
      the variant's \`signature\` field takes it as is
  verify --key <cosign.pub> --signature <file|base64> <artifact>
      exits 0 when the signature verifies with the key, 1 when it does not
`;

/** The password of cosign's encrypted keys; unset reads as empty, as for an unattended cosign. */
function cosignPassword(): { password: string; set: boolean } {
  const value = process.env.COSIGN_PASSWORD;
  return { password: value ?? '', set: value !== undefined };
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new ModelError('BAD_ARGUMENT', `expected exactly one ${what}`);
  return positionals[0];
}

function readSmallFile(path: string, flag: string): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (cause) {
    throw new ModelError('BAD_ARGUMENT', `${flag} ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'cannot read'}`, { cause });
  }
  if (size > MAX_KEY_FILE_BYTES) throw new ModelError('BAD_ARGUMENT', `${flag} ${path}: ${size} bytes is too large for a key or signature file`);
  return readFileSync(path);
}

async function keygen(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, force: { type: 'boolean' } } });
  if (positionals.length > 0) throw new ModelError('BAD_ARGUMENT', `keygen takes no positional argument, got ${positionals.join(' ')}`);
  if (!values.out) throw new ModelError('BAD_ARGUMENT', '--out <dir> is required');
  const privatePath = join(values.out, PRIVATE_KEY_FILE);
  const publicPath = join(values.out, PUBLIC_KEY_FILE);
  if (!values.force && (existsSync(privatePath) || existsSync(publicPath))) {
    throw new ModelError('OUTPUT_EXISTS', `${privatePath} or ${publicPath} exists; pass --force to replace the key pair (signatures made with the old key stop verifying)`);
  }
  const { password, set } = cosignPassword();
  if (!set) io.err('COSIGN_PASSWORD is not set: the private key is encrypted with an empty password\n');
  const pair = await generateKeyPair(password);
  mkdirSync(values.out, { recursive: true });
  writeFileSync(privatePath, pair.privatePem, { mode: 0o600 });
  writeFileSync(publicPath, pair.publicPem, { mode: 0o644 });
  io.out(`Private key written to ${privatePath}\nPublic key written to ${publicPath}\n`);
}

async function sign(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { key: { type: 'string' }, output: { type: 'string' } } });
  const artifact = onePositional(positionals, 'artifact file');
  if (!values.key) throw new ModelError('BAD_ARGUMENT', '--key <cosign.key|key.pem> is required');
  const key = await loadPrivateKey(readSmallFile(values.key, '--key').toString('utf8'), cosignPassword().password, `--key ${values.key}`);
  const signature = encodeSignature(await signFile(artifact, key));
  if (values.output) {
    writeFileSync(values.output, signature);
    io.err(`Wrote signature to ${values.output}\n`);
  } else {
    io.out(`${signature}\n`);
  }
}

async function verify(argv: string[], io: CommandIO): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { key: { type: 'string' }, signature: { type: 'string' } } });
  const artifact = onePositional(positionals, 'artifact file');
  if (!values.key) throw new ModelError('BAD_ARGUMENT', '--key <cosign.pub> is required');
  if (!values.signature) throw new ModelError('BAD_ARGUMENT', '--signature <file|base64> is required');
  const key = loadPublicKey(readSmallFile(values.key, '--key').toString('utf8'), `--key ${values.key}`);
  // As cosign's verify-blob: the flag names a file, or is the base64 signature itself.
  const given = values.signature;
  const content = existsSync(given) ? readSmallFile(given, '--signature') : Buffer.from(given, 'latin1');
  const der = decodeSignature(content, `--signature ${existsSync(given) ? given : '(inline)'}`);
  if (!(await verifyFile(artifact, der, key))) {
    throw new ModelError('SIGNATURE_MISMATCH', `the signature does not verify ${artifact} with ${values.key}: the artifact was changed after signing, or another key signed it`);
  }
  io.out('Verified OK\n');
}

export const SIGN_COMMANDS: Record<string, (argv: string[], io: CommandIO) => Promise<void>> = { keygen, sign, verify };
