// OCI image documents (config, manifest, index, layout) as canonical JSON, and the files of
// an OCI image layout. Pure: the same inputs always give the same bytes, hence the same digests.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface Blob extends Descriptor {
  data: Buffer;
}

export const sha256 = (data: Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json | undefined };

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** JSON with sorted keys and no whitespace: one byte sequence per document. */
export const canonicalJson = (value: Json): Buffer => Buffer.from(JSON.stringify(sortKeys(value)));

export function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256(data), size: data.length, data };
}

export const descriptor = (b: Blob): Descriptor => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });

/**
 * gzip at level 9 with zlib's header fields fixed (mtime 0, no file name), so the same tar
 * gives the same blob with the same zlib (Node's, pinned by the `node` devDependency).
 */
export const gzipLayer = (tar: Buffer): Buffer => gzipSync(tar, { level: 9 });

export interface Layer {
  /** sha256 of the uncompressed tar: the config's diff_id. */
  diffId: string;
  gzip: Blob;
  /** What made it, for the config's history. */
  createdBy: string;
}

export function layerFrom(tar: Buffer, createdBy: string, gzipped?: Buffer): Layer {
  return { diffId: sha256(tar), gzip: blob(MEDIA.layerGzip, gzipped ?? gzipLayer(tar)), createdBy };
}

export interface ImageConfigInput {
  architecture: 'amd64' | 'arm64';
  user: string;
  entrypoint: readonly string[];
  cmd?: readonly string[];
  env: readonly string[];
  workingDir: string;
  labels: Readonly<Record<string, string>>;
  exposedPorts?: readonly string[];
  /** RFC 3339, fixed per revision. */
  created: string;
  layers: readonly Layer[];
}

export function imageConfig(input: ImageConfigInput): Blob {
  const config: Json = {
    architecture: input.architecture,
    os: 'linux',
    created: input.created,
    config: {
      User: input.user,
      Entrypoint: [...input.entrypoint],
      Cmd: input.cmd ? [...input.cmd] : undefined,
      Env: [...input.env],
      WorkingDir: input.workingDir,
      Labels: { ...input.labels },
      ExposedPorts: input.exposedPorts?.length ? Object.fromEntries(input.exposedPorts.map((p) => [p, {}])) : undefined,
    },
    rootfs: { type: 'layers', diff_ids: input.layers.map((l) => l.diffId) },
    history: input.layers.map((l) => ({ created: input.created, created_by: l.createdBy })),
  };
  return blob(MEDIA.config, canonicalJson(config));
}

export function imageManifest(config: Blob, layers: readonly Layer[], annotations: Readonly<Record<string, string>>): Blob {
  return blob(
    MEDIA.manifest,
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { ...descriptor(config) },
      layers: layers.map((l) => ({ ...descriptor(l.gzip) })),
      annotations: { ...annotations },
    }),
  );
}

/**
 * The layout's index.json. `io.containerd.image.name` (the full reference) is what containerd's
 * importer (`ctr images import`, k3s's air-gap folder) names the image by;
 * `org.opencontainers.image.ref.name` (the tag) is what `skopeo copy oci:<dir>:<tag>` and
 * Podman look up. `docker save` writes the same pair.
 */
export function imageIndex(manifest: Blob, architecture: string, reference: string): Buffer {
  const tag = reference.slice(reference.lastIndexOf(':') + 1);
  return canonicalJson({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        ...descriptor(manifest),
        platform: { architecture, os: 'linux' },
        annotations: { 'io.containerd.image.name': reference, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  });
}

export const OCI_LAYOUT = canonicalJson({ imageLayoutVersion: '1.0.0' });

/** `docker.io/edgeplane/agent:0.1.0` from `edgeplane/agent:0.1.0`, as containerd names images. */
export function fullReference(reference: string): string {
  const first = reference.split('/')[0] ?? '';
  const hasRegistry = reference.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const named = hasRegistry ? reference : `docker.io/${reference.includes('/') ? reference : `library/${reference}`}`;
  return named;
}

export interface LayoutFile {
  path: string;
  data: Buffer;
}

/** The files of an OCI image layout directory, blobs in digest order. */
export function layoutFiles(index: Buffer, blobs: readonly Blob[]): LayoutFile[] {
  const unique = new Map<string, Blob>();
  for (const b of blobs) unique.set(b.digest, b);
  return [
    { path: 'oci-layout', data: OCI_LAYOUT },
    { path: 'index.json', data: index },
    ...[...unique.values()]
      .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0))
      .map((b) => ({ path: `blobs/sha256/${b.digest.slice('sha256:'.length)}`, data: b.data })),
  ];
}
