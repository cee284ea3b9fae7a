// The control plane's version, from its package.json; bundled into a single executable at build time.
import pkg from '../package.json' with { type: 'json' };

export const CONTROL_PLANE_VERSION: string = pkg.version;

/** What `--version` prints: the version, and the Node and platform it runs on. */
export function versionLine(): string {
  return `edgeplane-control-plane ${CONTROL_PLANE_VERSION} (node ${process.versions.node}, ${process.platform}-${process.arch})`;
}
