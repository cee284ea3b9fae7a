// Builds the agent as a Node single-executable application:
//   1. esbuild bundles src/cli.ts and its dependencies into one CommonJS file;
//   2. Node 24 (the node_modules/node binary) turns it into a SEA blob;
//   3. postject injects the blob into a copy of that node binary: dist/edgeplane-agent;
//   4. onnxruntime-node (JS, native addon and libonnxruntime) and onnxruntime-common go beside
//      it in dist/node_modules/: the session worker threads load the library from there (they
//      cannot reach code bundled into the executable), and the bundle's own copy loads the
//      same addon when sessions run inline;
//   5. both are packed into dist/edgeplane-agent-<version>-linux-x64.tar.gz, and the binary
//      is checked to answer --version;
//   6. the tarball's sha256 goes into <tarball>.sha256 and dist/SHA256SUMS (sha256sum format),
//      which deploy/agent/install.sh checks before it installs.
// Run with `npm run -w @edgeplane/agent build:binary` (or `make agent-binary`).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const agentDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(agentDir, '..');
const dist = join(repoRoot, 'dist');
const work = join(dist, '.agent-build');
const version = (JSON.parse(readFileSync(join(agentDir, 'package.json'), 'utf8')) as { version: string }).version;
const platform = `${process.platform}-${process.arch}`;
const node24 = join(repoRoot, 'node_modules', 'node', 'bin', 'node');
const ortPackages = ['onnxruntime-node', 'onnxruntime-common'] as const;
const addonRelative = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
const addonSource = join(repoRoot, addonRelative);
/**
 * V8 flags baked into the executable: a 1 MiB young generation (V8's default is 16 MiB per
 * semi-space) saves about 6-8 MiB of an idle agent's RSS. Measured and left out: --lite-mode
 * (about 6 MiB less idle, but KServe JSON tensors decode and encode 2.4x slower) and
 * --single-threaded (1-2 MiB less, garbage collection and compilation then on the main thread).
 */
const EXEC_ARGV = ['--max-semi-space-size=1'];
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const step = (what: string) => process.stdout.write(`[agent-binary] ${what}\n`);
const mib = (path: string) => `${(statSync(path).size / 2 ** 20).toFixed(1)} MiB`;

/**
 * onnxruntime-node requires its addon by a path relative to its own JS file, which does not
 * exist inside a single executable. Rewrite that require to load the addon from the
 * directory beside the executable (or beside the bundle when run with plain node).
 */
const onnxruntimeAddonBesideExecutable: Plugin = {
  name: 'onnxruntime-addon-beside-executable',
  setup(b) {
    b.onLoad({ filter: /onnxruntime-node[\\/]dist[\\/]binding\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const pattern = /require\(`\.\.\/bin\/napi-v6\/\$\{process\.platform\}\/\$\{process\.arch\}\/onnxruntime_binding\.node`\)/;
      if (!pattern.test(source)) throw new Error(`${args.path}: the addon require changed; update ${fileURLToPath(import.meta.url)}`);
      const loader =
        `require('node:module').createRequire(require('node:sea').isSea() ? process.execPath : __filename)` +
        `('./${addonRelative.split('\\').join('/')}/onnxruntime_binding.node')`;
      return { contents: source.replace(pattern, loader), loader: 'js' };
    });
  },
};

/**
 * V8 keeps a script's source in memory for lazy compilation, as a one-byte string only when
 * every character is Latin-1; one em dash left in a comment doubled the 3.4 MB bundle to a
 * 6.6 MB two-byte string (measured: 3.5 MiB less RSS escaped). esbuild escapes strings but not
 * comments or regular expression literals; `\uXXXX` means the same character in every place
 * it can appear in JavaScript source (comment, string, template, regular expression, identifier).
 */
function escapeAboveLatin1(file: string): number {
  let count = 0;
  const source = readFileSync(file, 'utf8').replace(/[^\u0000-\u00ff]/g, (c) => {
    count++;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  writeFileSync(file, source);
  return count;
}

/**
 * `<tarball>.sha256` and a line in `dist/SHA256SUMS` (other tarballs' lines kept), in the
 * format of `sha256sum`, so install.sh and `sha256sum -c` both verify the download.
 */
function writeChecksums(tarball: string): void {
  const name = basename(tarball);
  const line = `${createHash('sha256').update(readFileSync(tarball)).digest('hex')}  ${name}\n`;
  writeFileSync(`${tarball}.sha256`, line);
  const sums = join(dirname(tarball), 'SHA256SUMS');
  const others = existsSync(sums) ? readFileSync(sums, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.endsWith(`  ${name}`)) : [];
  writeFileSync(sums, [...others.map((l) => `${l}\n`), line].join(''));
  step(`sha256 in ${name}.sha256 and SHA256SUMS`);
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('the agent binary is built for Linux');
  if (!existsSync(node24)) throw new Error(`${node24} is missing: run npm install at the repository root`);
  if (!existsSync(join(addonSource, 'onnxruntime_binding.node'))) throw new Error(`${addonSource} has no onnxruntime_binding.node`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  step('bundling src/cli.ts with esbuild');
  const bundle = join(work, 'edgeplane-agent.cjs');
  const result = await build({
    entryPoints: [join(agentDir, 'src', 'cli.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [onnxruntimeAddonBesideExecutable],
  });
  if (result.errors.length) throw new Error('esbuild failed');
  const escaped = escapeAboveLatin1(bundle);
  step(`bundle ${mib(bundle)} (${escaped} characters above U+00FF escaped)`);

  step('making the SEA blob with node --experimental-sea-config');
  const blob = join(work, 'sea-prep.blob');
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, execArgv: EXEC_ARGV }));
  execFileSync(node24, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });

  step('injecting the blob into a copy of node with postject');
  const exe = join(dist, 'edgeplane-agent');
  rmSync(exe, { force: true });
  copyFileSync(node24, exe);
  chmodSync(exe, 0o755);
  // The node binary from npm carries debug info; dropping it halves the download.
  try {
    execFileSync('strip', ['--strip-debug', exe], { stdio: 'inherit' });
  } catch {
    step('strip not available; keeping debug info');
  }
  const postject = join(repoRoot, 'node_modules', 'postject', 'dist', 'cli.js');
  execFileSync(node24, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'inherit' });
  step(`dist/edgeplane-agent ${mib(exe)}`);

  step('copying onnxruntime-node and onnxruntime-common to dist/node_modules/');
  rmSync(join(dist, 'node_modules'), { recursive: true, force: true });
  for (const pkg of ortPackages) {
    const from = join(repoRoot, 'node_modules', pkg);
    const to = join(dist, 'node_modules', pkg);
    mkdirSync(to, { recursive: true });
    cpSync(join(from, 'package.json'), join(to, 'package.json'));
    cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
  }
  // Only this platform's addon; the package ships every platform's.
  cpSync(addonSource, join(dist, addonRelative), { recursive: true });

  step('checking that the binary answers --version');
  const out = execFileSync(exe, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  if (!out.includes(version)) throw new Error(`dist/edgeplane-agent --version printed ${JSON.stringify(out)}`);

  const tarball = join(dist, `edgeplane-agent-${version}-${platform}.tar.gz`);
  step(`packing ${tarball}`);
  execFileSync('tar', ['-czf', tarball, '-C', dist, 'edgeplane-agent', 'node_modules'], { stdio: 'inherit' });
  step(`${tarball} ${mib(tarball)}`);
  writeChecksums(tarball);
  rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`[agent-binary] ${(err as Error).message}\n`);
  process.exit(1);
});
