// Builds the dashboard into dashboard/dist/: index.html, app-<hash>.js and app-<hash>.css
// (one stylesheet: the app's and uPlot's), manifest.json, and embedded.json (every file in
// base64, for the control plane's single executable). Skips the build when the inputs' content
// hash matches the last one, so a warm `make up` or `make test` does nothing.
//   npm run build -w @edgeplane/dashboard [-- --force]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { build } from 'esbuild';
import { dashboardDir, dashboardDist, type DashboardManifest, type EmbeddedDashboard } from './assets.ts';

const say = (line: string) => process.stdout.write(`[dashboard] ${line}\n`);
const repoRoot = join(dashboardDir, '..');
const modules = join(repoRoot, 'node_modules');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((f) => !f.endsWith('.test.ts'))
    .sort();
}

/** Every input that can change the output: sources, this script, the bundled packages' versions. */
export function inputHash(): string {
  const hash = createHash('sha256');
  const inputs = [
    ...filesUnder(join(dashboardDir, 'src')),
    join(dashboardDir, 'scripts', 'build.ts'),
    join(dashboardDir, 'package.json'),
    ...['preact', 'htm', 'uplot', 'esbuild'].map((p) => join(modules, p, 'package.json')),
  ];
  for (const file of inputs) {
    hash.update(relative(repoRoot, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

function upToDate(hash: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(join(dashboardDist, 'manifest.json'), 'utf8')) as DashboardManifest;
    return manifest.hash === hash && [...manifest.files, 'embedded.json'].every((f) => existsSync(join(dashboardDist, f)));
  } catch {
    return false;
  }
}

const indexHtml = (script: string, style: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeplane</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="./${style}">
<script type="module" src="./${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The edgeplane dashboard needs JavaScript.</noscript>
</body>
</html>
`;

export async function buildDashboard(options: { force?: boolean } = {}): Promise<DashboardManifest> {
  const hash = inputHash();
  if (!options.force && upToDate(hash)) {
    say(`up to date (${hash.slice(0, 12)})`);
    return JSON.parse(readFileSync(join(dashboardDist, 'manifest.json'), 'utf8')) as DashboardManifest;
  }
  const started = Date.now();
  rmSync(dashboardDist, { recursive: true, force: true });
  mkdirSync(dashboardDist, { recursive: true });
  const result = await build({
    entryPoints: { app: join(dashboardDir, 'src', 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox111', 'safari16.4'],
    minify: true,
    outdir: dashboardDist,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: repoRoot,
  });
  const outputs = Object.keys(result.metafile.outputs).map((f) => basename(f));
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (!script || !style) throw new Error(`esbuild wrote ${outputs.join(', ')}: expected one .js and one .css`);
  writeFileSync(join(dashboardDist, 'index.html'), indexHtml(script, style));
  const files = ['index.html', ...outputs].sort();
  const manifest: DashboardManifest = { hash, files, script, style };
  writeFileSync(join(dashboardDist, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const embedded: EmbeddedDashboard = { hash, files: Object.fromEntries(files.map((f) => [f, readFileSync(join(dashboardDist, f)).toString('base64')])) };
  writeFileSync(join(dashboardDist, 'embedded.json'), JSON.stringify(embedded));
  const kib = (f: string) => `${(statSync(join(dashboardDist, f)).size / 1024).toFixed(1)} KiB`;
  say(`built ${script} (${kib(script)}), ${style} (${kib(style)}) in ${Date.now() - started} ms`);
  return manifest;
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  buildDashboard({ force: process.argv.includes('--force') }).catch((err: unknown) => {
    process.stderr.write(`[dashboard] build failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
