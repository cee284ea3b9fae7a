// The dashboard inside the control plane's single executable: its files, embedded as base64
// by the build (dist/embedded.json), written once into a directory named by their hash that the
// control plane serves (EP_DASHBOARD_DIR). No import.meta here: the executable is CommonJS.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

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
