// What goes into each image: one shared base layer (Debian's C and C++ runtime, CA bundle,
// time zones, accounts) and one layer of the image's own program.
import { ImageError } from './errors.ts';

export const BASE_PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6', 'ca-certificates', 'tzdata'] as const;

/**
 * redis-server's shared libraries as `ldd` lists them on Debian 12 (redis-tools holds the
 * binary; redis-server only the /usr/bin/redis-server link to it).
 */
export const REDIS_PACKAGES = [
  'redis-tools',
  'redis-server',
  'libatomic1',
  'libjemalloc2',
  'liblzf1',
  'libssl3',
  'libsystemd0',
  'libcap2',
  'libgcrypt20',
  'liblzma5',
  'libzstd1',
  'liblz4-1',
  'libgpg-error0',
] as const;

export type ImageName = 'control-plane' | 'agent' | 'nats-server' | 'redis-server';
export const IMAGE_NAMES: readonly ImageName[] = ['control-plane', 'agent', 'nats-server', 'redis-server'];

/** A file of the program layer: `from` on the build machine (a directory is copied whole). */
export interface AppInput {
  from: string;
  to: string;
}

export interface ImageSpec {
  name: ImageName;
  /** Repository without registry, as the chart names it. */
  repository: string;
  title: string;
  description: string;
  licenses: string;
  entrypoint: readonly string[];
  workingDir: string;
  /** Directories owned by nonroot (65532) in the program layer. */
  ownedDirs: readonly string[];
  exposedPorts: readonly string[];
  /** Debian packages of the program layer (beyond the base). */
  packages: readonly string[];
}

export const ENV = ['PATH=/usr/local/bin:/usr/bin:/bin', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'] as const;
export const USER = '65532:65532';
export const SOURCE = process.env.EDGEPLANE_IMAGE_SOURCE ?? 'https://github.com/edgeplane/edgeplane';

export const SPECS: Readonly<Record<ImageName, ImageSpec>> = {
  'control-plane': {
    name: 'control-plane',
    repository: 'edgeplane/control-plane',
    title: 'edgeplane control plane',
    description: 'Places ML models on edge devices at the precision tier each can afford (Node single executable).',
    licenses: 'Apache-2.0',
    entrypoint: ['/usr/local/bin/edgeplane-control-plane'],
    workingDir: '/home/nonroot',
    ownedDirs: [],
    exposedPorts: ['8080/tcp'],
    packages: [],
  },
  agent: {
    name: 'agent',
    repository: 'edgeplane/agent',
    title: 'edgeplane agent',
    description: 'Edge node agent: hardware report, model download and local inference (Node single executable, ONNX Runtime beside it).',
    licenses: 'Apache-2.0 AND MIT',
    entrypoint: ['/opt/edgeplane-agent/edgeplane-agent'],
    workingDir: '/home/nonroot',
    ownedDirs: [],
    exposedPorts: [],
    packages: [],
  },
  'nats-server': {
    name: 'nats-server',
    repository: 'edgeplane/nats-server',
    title: 'nats-server',
    description: 'NATS server with JetStream, built from its Go module at the version the project pins.',
    licenses: 'Apache-2.0',
    entrypoint: ['/usr/local/bin/nats-server'],
    workingDir: '/home/nonroot',
    ownedDirs: [],
    exposedPorts: ['4222/tcp', '6222/tcp', '8222/tcp'],
    packages: [],
  },
  'redis-server': {
    name: 'redis-server',
    repository: 'edgeplane/redis-server',
    title: 'redis-server',
    description: "Redis from Debian 12's packages.",
    licenses: 'BSD-3-Clause',
    entrypoint: ['/usr/bin/redis-server'],
    workingDir: '/data',
    ownedDirs: ['data'],
    exposedPorts: ['6379/tcp'],
    packages: REDIS_PACKAGES,
  },
};

/** `5:7.0.15-1~deb12u10` -> `7.0.15`: upstream version, without epoch or Debian revision. */
export function upstreamVersion(debianVersion: string): string {
  const noEpoch = debianVersion.includes(':') ? debianVersion.slice(debianVersion.indexOf(':') + 1) : debianVersion;
  return noEpoch.replace(/[-+~].*$/, '');
}

/** Go's and Node's architecture names -> OCI's. */
export function ociArch(arch: string): 'amd64' | 'arm64' {
  if (arch === 'x64' || arch === 'amd64') return 'amd64';
  if (arch === 'arm64' || arch === 'aarch64') return 'arm64';
  throw new ImageError('SPEC_INVALID', `architecture ${arch} is not built (amd64 and arm64 are)`);
}
