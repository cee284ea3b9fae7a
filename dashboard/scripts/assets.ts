// Where the built dashboard lives, and how the control plane's single executable carries it:
// the build writes every file into dist/embedded.json, the executable's entry imports that and
// writes the files once into a directory named by their hash, which the control plane serves.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const dashboardDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The built page: index.html, app-<hash>.js, app-<hash>.css, manifest.json. */
export const dashboardDist = join(dashboardDir, 'dist');

export interface DashboardManifest {
  /** Content hash of the build's inputs. */
  hash: string;
  /** Files in dist/ the page needs, relative names. */
  files: string[];
  script: string;
  style: string;
}

export interface EmbeddedDashboard {
  hash: string;
  /** Relative name to base64 contents. */
  files: Record<string, string>;
}

/**
 * Writes the embedded files under `parent` (the temp directory by default) unless a previous
 * start already did, and returns that directory. Written beside and renamed into place, so two
 * processes starting at once never serve a half-written file.
 */
export function materialiseDashboard(embedded: EmbeddedDashboard, parent = tmpdir()): string {
  const dir = join(parent, `edgeplane-dashboard-${embedded.hash.slice(0, 16)}`);
  if (existsSync(join(dir, 'index.html'))) return dir;
  const staging = `${dir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const [name, base64] of Object.entries(embedded.files)) {
    const file = join(staging, name);
    if (!file.startsWith(staging + '/')) throw new Error(`embedded dashboard file ${JSON.stringify(name)} leaves its directory`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(base64, 'base64'));
  }
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another process won the race: its copy is the same content.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, 'index.html'))) throw err;
  }
  return dir;
}
