// `make images`: OCI image layouts in dist/images/<name>/ and the archive k3s imports beside
// each (dist/images/<name>.oci.tar), plus images.json (references, digests, sizes),
// SHA256SUMS of the archives, and each image's Containerfile build context.
//   npx tsx images/src/build.ts [name...] [--out dir] [--no-layer-cache]
// Layers are cached by content (the uncompressed tar's sha256) under
// ~/.cache/edgeplane/images/layers, Debian packages under ~/.cache/edgeplane/images/debs.
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LAYER_FILES, labels, renderContainerfile } from './containerfile.ts';
import { fetchPackages, readTree, type DebPackage } from './debian.ts';
import { ImageError, isImageError } from './errors.ts';
import { fullReference, gzipLayer, imageConfig, imageIndex, imageManifest, layerFrom, layoutFiles, sha256, type Layer } from './oci.ts';
import { NONROOT, caBundle, keepPackagePath, mergeRoot, systemFiles } from './rootfs.ts';
import { BASE_PACKAGES, ENV, IMAGE_NAMES, SPECS, USER, ociArch, upstreamVersion, type ImageName, type ImageSpec } from './specs.ts';
import { writeTar, type TarEntry } from './tar.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cacheRoot = process.env.EDGEPLANE_CACHE ?? join(homedir(), '.cache', 'edgeplane');
const log = (line: string) => process.stdout.write(`[images] ${line}\n`);

export interface BuiltImage {
  name: ImageName;
  reference: string;
  /** The manifest's digest: what `ctr images ls` and the kubelet show. */
  digest: string;
  architecture: string;
  archive: string;
  archiveSha256: string;
  /** Sum of the gzip layers, config and manifest: what a registry would transfer. */
  compressedBytes: number;
  /** Sum of the uncompressed layer tars. */
  uncompressedBytes: number;
  layers: { diffId: string; digest: string; size: number; uncompressedSize: number; createdBy: string }[];
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
}

/** Revision and creation time: the commit's, so a rebuild of one commit gives one digest. */
export function buildStamp(): { revision: string; created: string } {
  const revision = process.env.EDGEPLANE_REVISION ?? git(['rev-parse', 'HEAD']);
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? git(['log', '-1', '--format=%ct', 'HEAD']));
  if (!Number.isInteger(epoch) || epoch < 0) throw new ImageError('SPEC_INVALID', `SOURCE_DATE_EPOCH ${JSON.stringify(process.env.SOURCE_DATE_EPOCH)} is not a number of seconds`);
  return { revision, created: new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z') };
}

const packageVersion = (workspace: string) => (JSON.parse(readFileSync(join(repoRoot, workspace, 'package.json'), 'utf8')) as { version: string }).version;

/** A file or directory tree of the build machine placed at `to`, root-owned. */
function treeAt(from: string, to: string): TarEntry[] {
  if (!existsSync(from)) throw new ImageError('INPUT_MISSING', `${from} does not exist (make images builds it first; run that target)`);
  const st = statSync(from);
  if (st.isFile()) return [{ type: 'file', path: to, mode: st.mode & 0o7777, uid: 0, gid: 0, data: readFileSync(from) }];
  return [{ type: 'dir', path: to, mode: 0o755, uid: 0, gid: 0 }, ...readTree(from, () => true, to)];
}

/** The shared base layer's entries: packages kept, CA bundle, accounts. */
function baseEntries(packages: readonly DebPackage[]): TarEntry[] {
  const ca = packages.find((p) => p.name === 'ca-certificates');
  if (!ca) throw new ImageError('SPEC_INVALID', 'the base has no ca-certificates package');
  const certDir = join(ca.root, 'usr', 'share', 'ca-certificates');
  const certs = readTree(certDir, (p) => p.endsWith('.crt') || !p.includes('.')).flatMap((e) => (e.type === 'file' ? [{ name: e.path, data: Buffer.from(e.data) }] : []));
  return mergeRoot([
    systemFiles(),
    ...packages.map((p) => readTree(p.root, keepPackagePath)),
    [{ type: 'file', path: 'etc/ssl/certs/ca-certificates.crt', mode: 0o644, uid: 0, gid: 0, data: caBundle(certs) }],
  ]);
}

interface AppLayer {
  entries: TarEntry[];
  version: string;
  createdBy: string;
}

function appLayer(spec: ImageSpec, arch: string): AppLayer {
  const dist = join(repoRoot, 'dist');
  switch (spec.name) {
    case 'control-plane':
      return {
        entries: treeAt(join(dist, 'edgeplane-control-plane'), 'usr/local/bin/edgeplane-control-plane'),
        version: packageVersion('control-plane'),
        createdBy: 'dist/edgeplane-control-plane (make control-plane-binary)',
      };
    case 'agent':
      return {
        entries: [...treeAt(join(dist, 'edgeplane-agent'), 'opt/edgeplane-agent/edgeplane-agent'), ...treeAt(join(dist, 'node_modules'), 'opt/edgeplane-agent/node_modules')],
        version: packageVersion('agent'),
        createdBy: 'dist/edgeplane-agent and dist/node_modules (make agent-binary)',
      };
    case 'nats-server': {
      const link = join(cacheRoot, 'bin', 'nats-server');
      const real = existsSync(link) ? realpathSync(link) : link;
      const version = /nats-server-v(.+)$/.exec(basename(real))?.[1];
      if (!version) throw new ImageError('INPUT_MISSING', `${link} does not name a versioned nats-server (run bash env/build-servers.sh)`);
      return { entries: treeAt(real, 'usr/local/bin/nats-server'), version, createdBy: `nats-server v${version} built from its Go module (env/build-servers.sh)` };
    }
    case 'redis-server': {
      const packages = fetchPackages(spec.packages, arch, join(cacheRoot, 'images'), log);
      const redis = packages.find((p) => p.name === 'redis-tools');
      return {
        entries: mergeRoot(packages.map((p) => readTree(p.root, keepPackagePath))),
        version: upstreamVersion(redis?.version ?? ''),
        createdBy: `Debian packages ${packages.map((p) => `${p.name}=${p.version}`).join(' ')}`,
      };
    }
  }
}

/** The gzip of a layer tar, from the cache when this tar was compressed before. */
function cachedLayer(tar: Buffer, createdBy: string, useCache: boolean): Layer {
  const diffId = sha256(tar);
  const dir = join(cacheRoot, 'images', 'layers');
  const path = join(dir, `${diffId.slice('sha256:'.length)}.tar.gz`);
  if (useCache && existsSync(path)) return layerFrom(tar, createdBy, readFileSync(path));
  const gz = gzipLayer(tar);
  if (useCache) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${path}.tmp`, gz);
    renameSync(`${path}.tmp`, path);
  }
  return layerFrom(tar, createdBy, gz);
}

function writeAtomic(path: string, data: Buffer | string): void {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

export interface BuildOptions {
  names: readonly ImageName[];
  out: string;
  useLayerCache: boolean;
}

export function buildImages(options: BuildOptions): BuiltImage[] {
  const arch = ociArch(process.arch);
  const stamp = buildStamp();
  mkdirSync(options.out, { recursive: true });
  log(`architecture ${arch}, revision ${stamp.revision.slice(0, 12)}, created ${stamp.created}`);
  const base = fetchPackages(BASE_PACKAGES, arch, join(cacheRoot, 'images'), log);
  const baseTar = writeTar(baseEntries(base));
  const baseLayer = cachedLayer(baseTar, `distroless base from Debian packages ${base.map((p) => `${p.name}=${p.version}`).join(' ')}`, options.useLayerCache);
  log(`base layer ${(baseTar.length / 2 ** 20).toFixed(1)} MiB, ${(baseLayer.gzip.size / 2 ** 20).toFixed(1)} MiB gzip`);

  const built: BuiltImage[] = [];
  for (const name of options.names) {
    const spec = SPECS[name];
    const app = appLayer(spec, arch);
    const owned: TarEntry[] = spec.ownedDirs.map((d) => ({ type: 'dir', path: d, mode: 0o755, uid: NONROOT, gid: NONROOT }));
    const appTar = writeTar(mergeRoot([owned, app.entries]));
    const layer = cachedLayer(appTar, app.createdBy, options.useLayerCache);
    const layers = [baseLayer, layer];
    const reference = `${spec.repository}:${app.version}`;
    const imageLabels = labels(spec, { version: app.version, revision: stamp.revision, created: stamp.created });
    const config = imageConfig({
      architecture: arch,
      user: USER,
      entrypoint: spec.entrypoint,
      env: ENV,
      workingDir: spec.workingDir,
      labels: imageLabels,
      exposedPorts: spec.exposedPorts,
      created: stamp.created,
      layers,
    });
    const manifest = imageManifest(config, layers, { 'org.opencontainers.image.created': stamp.created, 'org.opencontainers.image.revision': stamp.revision });
    const index = imageIndex(manifest, arch, fullReference(reference));
    const files = layoutFiles(index, [manifest, config, ...layers.map((l) => l.gzip)]);

    const dir = join(options.out, name);
    rmSync(dir, { recursive: true, force: true });
    for (const f of files) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.data);
    }
    const archiveTar = writeTar([
      { type: 'dir', path: 'blobs', mode: 0o755, uid: 0, gid: 0 },
      { type: 'dir', path: 'blobs/sha256', mode: 0o755, uid: 0, gid: 0 },
      ...files.map((f): TarEntry => ({ type: 'file', path: f.path, mode: 0o644, uid: 0, gid: 0, data: f.data })),
    ]);
    const archive = join(options.out, `${name}.oci.tar`);
    writeAtomic(archive, archiveTar);

    // The Containerfile's build context: the same layer archives, hard-linked from the layout.
    const context = join(options.out, `${name}.context`);
    rmSync(context, { recursive: true, force: true });
    mkdirSync(context, { recursive: true });
    layers.forEach((l, i) => linkSync(join(dir, 'blobs', 'sha256', l.gzip.digest.slice('sha256:'.length)), join(context, LAYER_FILES[i] as string)));
    writeFileSync(join(context, 'Containerfile'), renderContainerfile(spec));

    const image: BuiltImage = {
      name,
      reference,
      digest: manifest.digest,
      architecture: arch,
      archive: basename(archive),
      archiveSha256: sha256(archiveTar).slice('sha256:'.length),
      compressedBytes: config.size + manifest.size + layers.reduce((s, l) => s + l.gzip.size, 0),
      uncompressedBytes: baseTar.length + appTar.length,
      layers: layers.map((l, i) => ({ diffId: l.diffId, digest: l.gzip.digest, size: l.gzip.size, uncompressedSize: i === 0 ? baseTar.length : appTar.length, createdBy: l.createdBy })),
    };
    built.push(image);
    log(`${name}: ${fullReference(reference)} ${image.digest} (${(image.compressedBytes / 2 ** 20).toFixed(1)} MiB compressed, ${(image.uncompressedBytes / 2 ** 20).toFixed(1)} MiB uncompressed)`);
  }

  // images.json and SHA256SUMS keep the lines of images not rebuilt this time.
  const summaryPath = join(options.out, 'images.json');
  const previous = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as BuiltImage[]) : [];
  const summary = [...previous.filter((p) => !built.some((b) => b.name === p.name) && existsSync(join(options.out, p.archive))), ...built].sort((a, b) => IMAGE_NAMES.indexOf(a.name) - IMAGE_NAMES.indexOf(b.name));
  writeAtomic(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  writeAtomic(join(options.out, 'SHA256SUMS'), summary.map((s) => `${s.archiveSha256}  ${s.archive}\n`).join(''));
  return built;
}

/** The summary `make images` wrote, for tests and the cluster environment. */
export function readBuiltImages(out = join(repoRoot, 'dist', 'images')): BuiltImage[] {
  const path = join(out, 'images.json');
  if (!existsSync(path)) throw new ImageError('INPUT_MISSING', `${path} does not exist: run make images`);
  return JSON.parse(readFileSync(path, 'utf8')) as BuiltImage[];
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { out: { type: 'string' }, 'no-layer-cache': { type: 'boolean' } },
    allowPositionals: true,
  });
  const unknown = positionals.filter((p) => !(IMAGE_NAMES as readonly string[]).includes(p));
  if (unknown.length) throw new ImageError('SPEC_INVALID', `unknown image ${unknown.join(', ')} (images: ${IMAGE_NAMES.join(', ')})`);
  const names = positionals.length ? (positionals as ImageName[]) : IMAGE_NAMES;
  buildImages({ names, out: resolve(values.out ?? join(repoRoot, 'dist', 'images')), useLayerCache: !values['no-layer-cache'] });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`[images] ${isImageError(err) ? `${err.code}: ${err.message}` : (err as Error).stack}\n`);
    process.exit(1);
  }
}
