// Where the built dashboard lives. The control plane's single executable carries it too: the
// build writes every file into dist/embedded.json, the executable's entry imports that and
// writes the files once into a directory named by their hash (materialise.ts).
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

export { materialiseDashboard, type EmbeddedDashboard } from './materialise.ts';
