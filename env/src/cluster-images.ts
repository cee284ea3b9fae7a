// The test cluster's own small images, written as OCI archives (what `ctr images import` and
// k3s take) without a container engine: the pause container every pod sandbox runs, built
// from Kubernetes' build/pause/linux/pause.c with gcc -static, and a probe image around
// Debian's static busybox (an HTTP server, a shell for exec probes and cat).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { cacheDir } from './binaries.ts';

/** The sandbox image containerd is told to use; never pulled (it is imported first). */
export const PAUSE_VERSION = '3.10.2';
export const PAUSE_IMAGE = `edgeplane.test/pause:${PAUSE_VERSION}`;
export const PROBE_IMAGE = 'edgeplane.test/probe:1';
const imageDir = join(cacheDir, 'images', 'test-cluster');
const goDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'go', 'kubernetes-node');

export interface ImageConfig {
  /** Full reference recorded in the archive (`io.containerd.image.name`). */
  name: string;
  entrypoint: string[];
  cmd?: string[];
  user?: string;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * Writes an OCI archive (oci-layout, index.json, blobs) of one gzip layer made from `rootfs`.
 * Entries are sorted and dated at the epoch, so the same files give the same digests.
 */
export function writeOciArchive(rootfs: string, config: ImageConfig, out: string): string {
  const work = mkdtempSync(join(tmpdir(), 'ep-oci-'));
  try {
    const layerTar = join(work, 'layer.tar');
    execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', rootfs, '-cf', layerTar, '.']);
    const layer = readFileSync(layerTar);
    const layerGz = gzipSync(layer, { level: 9 });
    const imageConfig = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: config.entrypoint, ...(config.cmd ? { Cmd: config.cmd } : {}), ...(config.user ? { User: config.user } : {}), WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
      history: [{ created_by: 'edgeplane test cluster' }],
    });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha256(imageConfig)}`, size: Buffer.byteLength(imageConfig) },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha256(layerGz)}`, size: layerGz.length }],
    });
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    for (const blob of [layerGz, Buffer.from(imageConfig), Buffer.from(manifest)]) writeFileSync(join(blobs, sha256(blob)), blob);
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const tag = config.name.slice(config.name.lastIndexOf(':') + 1);
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${sha256(manifest)}`,
            size: Buffer.byteLength(manifest),
            platform: { architecture: 'amd64', os: 'linux' },
            annotations: { 'io.containerd.image.name': config.name, 'org.opencontainers.image.ref.name': tag },
          },
        ],
      }),
    );
    mkdirSync(dirname(out), { recursive: true });
    execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', layout, '-cf', `${out}.tmp`, '.']);
    renameSync(`${out}.tmp`, out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The pause image's archive, built once into the cache (keyed by the pause version). */
export function ensurePauseImage(): string {
  const out = join(imageDir, `pause-${PAUSE_VERSION}.oci.tar`);
  if (existsSync(out)) return out;
  // pause.c ships in the k8s.io/kubernetes module the node binaries are built from.
  const moduleDir = execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', 'k8s.io/kubernetes'], { cwd: goDir, encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' } }).trim();
  const source = join(moduleDir, 'build', 'pause', 'linux', 'pause.c');
  const rootfs = mkdtempSync(join(tmpdir(), 'ep-pause-'));
  try {
    execFileSync('gcc', ['-Os', '-Wall', '-Werror', '-static', `-DVERSION=v${PAUSE_VERSION}`, '-o', join(rootfs, 'pause'), source]);
    execFileSync('strip', [join(rootfs, 'pause')]);
    return writeOciArchive(rootfs, { name: PAUSE_IMAGE, entrypoint: ['/pause'], user: '65535:65535' }, out);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

/** A static busybox (Debian's busybox-static) with its applets linked, as a probe workload. */
export function ensureProbeImage(): string {
  const out = join(imageDir, 'probe-1.oci.tar');
  if (existsSync(out)) return out;
  const busybox = '/bin/busybox';
  if (!existsSync(busybox) || !execFileSync('file', ['-b', busybox], { encoding: 'utf8' }).includes('statically linked')) {
    throw new Error('the probe image needs a static /bin/busybox: apt-get install busybox-static (make deps does)');
  }
  const rootfs = mkdtempSync(join(tmpdir(), 'ep-probe-'));
  try {
    mkdirSync(join(rootfs, 'bin'));
    copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'cat', 'httpd', 'ls', 'sleep', 'test', 'wget', 'ssl_client', 'nc', 'id', 'touch', 'echo']) {
      execFileSync('ln', ['-s', 'busybox', join(rootfs, 'bin', applet)]);
    }
    for (const d of ['tmp', 'www', 'etc']) mkdirSync(join(rootfs, d));
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    writeFileSync(join(rootfs, 'www', 'healthz'), 'ok\n');
    writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
    return writeOciArchive(rootfs, { name: PROBE_IMAGE, entrypoint: ['/bin/busybox'], cmd: ['httpd', '-f', '-p', '8080', '-h', '/www'], user: '65534:65534' }, out);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}

/**
 * CoreDNS (the cluster DNS), distroless style: the static binary built by build-servers.sh,
 * accounts for nonroot (65532) and nothing else. Keyed by the CoreDNS version.
 */
export function ensureCoreDnsImage(binary: string, version: string): { archive: string; reference: string } {
  const reference = `edgeplane.test/coredns:${version.replace(/^v/, '')}`;
  const archive = join(imageDir, `coredns-${version}.oci.tar`);
  if (existsSync(archive)) return { archive, reference };
  const rootfs = mkdtempSync(join(tmpdir(), 'ep-coredns-'));
  try {
    copyFileSync(binary, join(rootfs, 'coredns'));
    chmodSync(join(rootfs, 'coredns'), 0o755);
    mkdirSync(join(rootfs, 'etc'));
    writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n');
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnonroot:x:65532:\n');
    writeOciArchive(rootfs, { name: reference, entrypoint: ['/coredns'], user: '65532:65532' }, archive);
    return { archive, reference };
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
}
