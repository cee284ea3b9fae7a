// Builds the control plane as a Node single-executable application, the same way as the agent
// (agent/scripts/sea.ts): dist/edgeplane-control-plane, checked to answer --help. It has no
// native addon, so nothing goes beside it. Run with `npm run -w @edgeplane/control-plane build:binary`.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSea } from '../../agent/scripts/sea.ts';
import { buildDashboard } from '../../dashboard/scripts/build.ts';

const controlPlaneDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(controlPlaneDir, '..', 'dist');
const step = (what: string) => process.stdout.write(`[control-plane-binary] ${what}\n`);

/**
 * src/main.ts runs main() only when it is the script node was started with, which a CommonJS
 * bundle cannot tell (import.meta is empty there); this entry calls it unconditionally.
 * It also carries the built dashboard (`make dashboard` first; make control-plane-binary does).
 */
const ENTRY = `
import { main } from './src/main.ts';
import { materialiseDashboard } from '../dashboard/scripts/materialise.ts';
import embeddedDashboard from '../dashboard/dist/embedded.json';
// The dashboard travels inside the executable; it is served from a directory of its own
// unless one is given. Only a serving start writes it (--version and --help must work on a
// read-only filesystem), and a failed write costs the page, never the control plane.
const args = process.argv.slice(2);
const serving = !args.some((a) => a === '--version' || a === '--help' || a === '-h');
if (serving && !process.env.EP_DASHBOARD_DIR && !args.some((a) => a.startsWith('--dashboard-dir'))) {
  try {
    process.env.EP_DASHBOARD_DIR = materialiseDashboard(embeddedDashboard);
  } catch (err) {
    process.stderr.write('dashboard not served: cannot write its files (' + (err instanceof Error ? err.message : String(err)) + '); give a writable TMPDIR or EP_DASHBOARD_DIR\\n');
  }
}
main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write('control plane failed: ' + (err instanceof Error ? err.stack : String(err)) + '\\n');
    process.exit(1);
  },
);
`;

async function build(): Promise<void> {
  const exe = join(dist, 'edgeplane-control-plane');
  const workDir = join(dist, '.control-plane-build');
  // The entry embeds dashboard/dist/embedded.json (a no-op when the build is current).
  await buildDashboard();
  await buildSea({
    entry: { contents: ENTRY, resolveDir: controlPlaneDir, sourcefile: 'sea-entry.ts', loader: 'ts' },
    output: exe,
    workDir,
    execArgv: [],
    // Reproducible image digests matter more than the start-up the code cache saves: `--help`
    // answered in 0.4 s with it and 0.7-0.9 s without, on a loaded 2-core machine.
    useCodeCache: false,
    step,
  });
  step('checking that the binary answers --help');
  const out = execFileSync(exe, ['--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  if (!out.includes('--')) throw new Error(`dist/edgeplane-control-plane --help printed ${JSON.stringify(out.slice(0, 200))}`);
  rmSync(workDir, { recursive: true, force: true });
}

build().catch((err: unknown) => {
  process.stderr.write(`[control-plane-binary] ${(err as Error).message}\n`);
  process.exit(1);
});
