// Node single-executable application build shared by the agent and the control plane:
//   1. esbuild bundles the entry and its dependencies into one CommonJS file (characters above
//      U+00FF escaped, see escapeAboveLatin1);
//   2. Node 24 (the node_modules/node binary) turns it into a SEA blob;
//   3. postject injects the blob into a stripped copy of that node binary.
// Each binary's own steps (native libraries beside it, tarballs, checksums) stay in its script.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin, type StdinOptions } from 'esbuild';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const node24 = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export const mib = (path: string): string => `${(statSync(path).size / 2 ** 20).toFixed(1)} MiB`;

/**
 * V8 keeps a script's source in memory for lazy compilation, as a one-byte string only when
 * every character is Latin-1; one em dash left in a comment doubled the 3.4 MB bundle to a
 * 6.6 MB two-byte string (measured: 3.5 MiB less RSS escaped). esbuild escapes strings but not
 * comments or regular expression literals; `\uXXXX` means the same character in every place
 * it can appear in JavaScript source (comment, string, template, regular expression, identifier).
 */
export function escapeAboveLatin1(file: string): number {
  let count = 0;
  const source = readFileSync(file, 'utf8').replace(/[^\u0000-\u00ff]/g, (c) => {
    count++;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  writeFileSync(file, source);
  return count;
}

export interface SeaOptions {
  /** A module path, or source text (with the directory its imports resolve from). */
  entry: string | StdinOptions;
  /** The executable written. */
  output: string;
  /** Scratch directory for the bundle and the blob (emptied first). */
  workDir: string;
  /** V8/Node flags baked into the executable. */
  execArgv: readonly string[];
  plugins?: Plugin[];
  /**
   * V8's code cache in the blob speeds start-up but differs from build to build (about 6 MB of
   * a 130 MB executable changed between two builds of the same source), so an executable
   * meant to be reproducible goes without it.
   */
  useCodeCache: boolean;
  step: (what: string) => void;
}

export async function buildSea(options: SeaOptions): Promise<void> {
  const { output, workDir, step } = options;
  if (process.platform !== 'linux') throw new Error('single executables are built for Linux');
  if (!existsSync(node24)) throw new Error(`${node24} is missing: run npm install at the repository root`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });

  const bundle = join(workDir, 'bundle.cjs');
  step(`bundling ${typeof options.entry === 'string' ? options.entry : 'the entry'} with esbuild`);
  const result = await build({
    ...(typeof options.entry === 'string' ? { entryPoints: [options.entry] } : { stdin: options.entry }),
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    legalComments: 'none',
    logLevel: 'warning',
    plugins: options.plugins ?? [],
  });
  if (result.errors.length) throw new Error('esbuild failed');
  const escaped = escapeAboveLatin1(bundle);
  step(`bundle ${mib(bundle)} (${escaped} characters above U+00FF escaped)`);

  step('making the SEA blob with node --experimental-sea-config');
  const blob = join(workDir, 'sea-prep.blob');
  const seaConfig = join(workDir, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: options.useCodeCache, execArgv: options.execArgv }));
  execFileSync(node24, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });

  step('injecting the blob into a copy of node with postject');
  rmSync(output, { force: true });
  mkdirSync(dirname(output), { recursive: true });
  copyFileSync(node24, output);
  chmodSync(output, 0o755);
  // The node binary from npm carries debug info; dropping it halves the download.
  try {
    execFileSync('strip', ['--strip-debug', output], { stdio: 'inherit' });
  } catch {
    step('strip not available; keeping debug info');
  }
  const postject = join(repoRoot, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(node24, [postject, output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'inherit' });
  step(`${output} ${mib(output)}`);
}
