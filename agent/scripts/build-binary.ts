// Builds the agent as a Node single-executable application:
//   1-3. src/cli.ts bundled, made a SEA blob and injected into a copy of Node 24 (scripts/sea.ts,
//      shared with the control plane's build): dist/edgeplane-agent;
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
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { buildSea, mib } from './sea.ts';

const agentDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(agentDir, '..');
const dist = join(repoRoot, 'dist');
const work = join(dist, '.agent-build');
const version = (JSON.parse(readFileSync(join(agentDir, 'package.json'), 'utf8')) as { version: string }).version;
const platform = `${process.platform}-${process.arch}`;
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

const step = (what: string) => process.stdout.write(`[agent-binary] ${what}\n`);

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
  if (!existsSync(join(addonSource, 'onnxruntime_binding.node'))) throw new Error(`${addonSource} has no onnxruntime_binding.node`);
  const exe = join(dist, 'edgeplane-agent');
  await buildSea({ entry: join(agentDir, 'src', 'cli.ts'), output: exe, workDir: work, execArgv: EXEC_ARGV, useCodeCache: true, plugins: [onnxruntimeAddonBesideExecutable], step });

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
