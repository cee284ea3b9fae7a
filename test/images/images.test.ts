// The images `make images` writes: layout and archive well-formed, the same digests from a
// second build, the Containerfile listing the same files and configuration, and each image's
// entrypoint run from its unpacked root in a chroot as user 65532 (--version or --help, and
// the server itself answering: control plane /healthz, nats-server /healthz, redis PING).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startNats, startRedis, type NatsServer, type RedisServer } from '@edgeplane/env';
import { buildImages, type BuiltImage } from '../../images/src/build.ts';
import { parseContainerfile } from '../../images/src/containerfile.ts';
import { ensureImages, IMAGES_DIR } from '../../images/src/ensure.ts';
import { sha256 } from '../../images/src/oci.ts';
import { IMAGE_NAMES, SPECS, type ImageName } from '../../images/src/specs.ts';
import { listTar } from '../../images/src/tar.ts';

interface Layout {
  index: { manifests: { digest: string; annotations: Record<string, string>; platform: { architecture: string } }[] };
  manifest: { config: { digest: string }; layers: { digest: string; size: number }[] };
  config: {
    architecture: string;
    created: string;
    config: { User: string; Entrypoint: string[]; Env: string[]; WorkingDir: string; Labels: Record<string, string>; ExposedPorts?: Record<string, object> };
    rootfs: { diff_ids: string[] };
  };
  blob(digest: string): Buffer;
}

function readLayout(name: ImageName): Layout {
  const dir = join(IMAGES_DIR, name);
  const blob = (digest: string) => readFileSync(join(dir, 'blobs', 'sha256', digest.replace('sha256:', '')));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Layout['index'];
  const manifest = JSON.parse(blob(index.manifests[0]?.digest ?? '').toString()) as Layout['manifest'];
  const config = JSON.parse(blob(manifest.config.digest).toString()) as Layout['config'];
  return { index, manifest, config, blob };
}

/** Paths of the image's root, layers applied in order (these images never delete a path). */
function rootListing(layers: Buffer[]): string[] {
  return [...new Set(layers.flatMap((gz) => listTar(gunzipSync(gz)).map((e) => e.path)))].sort();
}

let images: BuiltImage[] = [];
const roots = new Map<ImageName, string>();
const work = mkdtempSync(join(tmpdir(), 'ep-images-'));
const children: ChildProcess[] = [];
/** chroot(8) found on the test's PATH: the child's own environment is the image's. */
const CHROOT = execFileSync('sh', ['-c', 'command -v chroot'], { encoding: 'utf8' }).trim();

beforeAll(async () => {
  images = await ensureImages((line) => console.log(line));
  for (const name of IMAGE_NAMES) {
    const root = join(work, `${name}-root`);
    mkdirSync(root);
    const layout = readLayout(name);
    for (const layer of layout.manifest.layers) execFileSync('tar', ['-xzf', join(IMAGES_DIR, name, 'blobs', 'sha256', layer.digest.replace('sha256:', '')), '-C', root]);
    roots.set(name, root);
  }
}, 1_200_000);

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const image = (name: ImageName): BuiltImage => {
  const found = images.find((i) => i.name === name);
  if (!found) throw new Error(`images.json has no ${name}`);
  return found;
};

describe('image layouts and archives', () => {
  it.each(IMAGE_NAMES)('%s: index, manifest, config and blobs agree; user 65532, labels, no shell', (name) => {
    const built = image(name);
    const layout = readLayout(name);
    expect(readFileSync(join(IMAGES_DIR, name, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    const entry = layout.index.manifests[0];
    expect(entry?.digest).toBe(built.digest);
    expect(entry?.annotations['io.containerd.image.name']).toBe(`docker.io/${built.reference}`);
    expect(entry?.platform.architecture).toBe('amd64');
    for (const l of layout.manifest.layers) {
      const data = layout.blob(l.digest);
      expect(sha256(data)).toBe(l.digest);
      expect(data.length).toBe(l.size);
    }
    expect(layout.config.rootfs.diff_ids).toEqual(layout.manifest.layers.map((l) => sha256(gunzipSync(layout.blob(l.digest)))));
    const c = layout.config.config;
    expect(c.User).toBe('65532:65532');
    expect(c.Entrypoint).toEqual(SPECS[name].entrypoint);
    expect(Object.keys(c.Labels).sort()).toEqual(['created', 'description', 'licenses', 'revision', 'source', 'title', 'version'].map((k) => `org.opencontainers.image.${k}`));
    expect(c.Labels['org.opencontainers.image.created']).toBe(layout.config.created);
    expect(c.Labels['org.opencontainers.image.version']).toBe(built.reference.split(':')[1]);
    const paths = rootListing(layout.manifest.layers.map((l) => layout.blob(l.digest)));
    for (const shell of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/bash', 'bin/busybox', 'usr/bin/dash', 'bin/dash']) expect(paths).not.toContain(shell);
    expect(paths).toContain(c.Entrypoint[0]?.slice(1));
    expect(paths).toContain('etc/ssl/certs/ca-certificates.crt');
    expect(paths).toContain('usr/share/zoneinfo/UTC');
  });

  it('all four images share one base layer', () => {
    const bases = new Set(IMAGE_NAMES.map((n) => readLayout(n).manifest.layers[0]?.digest));
    expect(bases.size).toBe(1);
  });

  it.each(IMAGE_NAMES)('%s.oci.tar holds exactly the layout, and SHA256SUMS names it', (name) => {
    const archive = readFileSync(join(IMAGES_DIR, `${name}.oci.tar`));
    const files = listTar(archive).filter((e) => e.type === 'file');
    const layout = readLayout(name);
    const expected = ['index.json', 'oci-layout', ...[layout.index.manifests[0]?.digest, layout.manifest.config.digest, ...layout.manifest.layers.map((l) => l.digest)].map((d) => `blobs/sha256/${d?.replace('sha256:', '')}`)].sort();
    expect(files.map((f) => f.path).sort()).toEqual(expected);
    for (const f of files) expect(sha256(archive.subarray(f.offset, f.offset + f.size))).toBe(sha256(readFileSync(join(IMAGES_DIR, name, f.path))));
    expect(readFileSync(join(IMAGES_DIR, 'SHA256SUMS'), 'utf8')).toContain(`${sha256(archive).replace('sha256:', '')}  ${name}.oci.tar\n`);
  });
});

describe('the chart', () => {
  it('names the control-plane and agent images make images writes', () => {
    const chart = join(import.meta.dirname, '..', '..', 'charts', 'edgeplane');
    const appVersion = (parseYaml(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;
    const values = parseYaml(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<'controlPlane' | 'agent', { image: { repository: string; tag: string } }>;
    const ref = (i: { repository: string; tag: string }) => `${i.repository}:${i.tag || appVersion}`;
    expect(ref(values.controlPlane.image)).toBe(image('control-plane').reference);
    expect(ref(values.agent.image)).toBe(image('agent').reference);
  });
});

describe('reproducible', () => {
  it(
    'a second build, without the layer cache, gives the same digests',
    () => {
      const out = join(work, 'rebuild');
      const created = readLayout('control-plane').config.created;
      const revision = readLayout('control-plane').config.config.Labels['org.opencontainers.image.revision'] ?? '';
      const saved = { rev: process.env.EDGEPLANE_REVISION, epoch: process.env.SOURCE_DATE_EPOCH };
      process.env.EDGEPLANE_REVISION = revision;
      process.env.SOURCE_DATE_EPOCH = String(Date.parse(created) / 1000);
      try {
        const again = buildImages({ names: IMAGE_NAMES, out, useLayerCache: false });
        expect(again.map((i) => [i.name, i.digest, i.archiveSha256])).toEqual(IMAGE_NAMES.map((n) => [n, image(n).digest, image(n).archiveSha256]));
      } finally {
        if (saved.rev === undefined) delete process.env.EDGEPLANE_REVISION;
        else process.env.EDGEPLANE_REVISION = saved.rev;
        if (saved.epoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
        else process.env.SOURCE_DATE_EPOCH = saved.epoch;
        rmSync(out, { recursive: true, force: true });
      }
    },
    900_000,
  );
});

describe('Containerfiles', () => {
  it.each(IMAGE_NAMES)('%s: the Containerfile and the image list the same files and configuration', (name) => {
    const layout = readLayout(name);
    const labels = layout.config.config.Labels;
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'images', 'containerfiles', `${name}.Containerfile`), 'utf8');
    const parsed = parseContainerfile(text, {
      VERSION: labels['org.opencontainers.image.version'] ?? '',
      REVISION: labels['org.opencontainers.image.revision'] ?? '',
      CREATED: labels['org.opencontainers.image.created'] ?? '',
    });
    expect(parsed.from).toBe('scratch');
    expect(parsed.adds.every((a) => a.dest === '/')).toBe(true);
    const context = join(IMAGES_DIR, `${name}.context`);
    const sources = parsed.adds.map((a) => readFileSync(join(context, a.source)));
    expect(sources.map((s) => sha256(s))).toEqual(layout.manifest.layers.map((l) => l.digest));
    expect(rootListing(sources)).toEqual(rootListing(layout.manifest.layers.map((l) => layout.blob(l.digest))));
    const c = layout.config.config;
    expect(parsed.labels).toEqual(c.Labels);
    expect(parsed.entrypoint).toEqual(c.Entrypoint);
    expect(parsed.user).toBe(c.User);
    expect(parsed.env).toEqual(c.Env);
    expect(parsed.workdir).toBe(c.WorkingDir);
    expect(parsed.expose.sort()).toEqual(Object.keys(c.ExposedPorts ?? {}).sort());
  });
});

/** Runs the image's entrypoint in its root as 65532:65532 with only the image's environment. */
function inRoot(name: ImageName, args: string[], env: Record<string, string> = {}): ChildProcess {
  const layout = readLayout(name);
  const imageEnv = Object.fromEntries(layout.config.config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const child = spawn(CHROOT, ['--userspec=65532:65532', roots.get(name) ?? '', ...layout.config.config.Entrypoint, ...args], {
    env: { ...imageEnv, HOME: '/home/nonroot', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

function runToEnd(name: ImageName, args: string[]): Promise<{ code: number | null; out: string }> {
  const child = inRoot(name, args);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, child: ChildProcess, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited with ${child.exitCode}: ${output().slice(-2000)}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms: ${output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || !child.pid) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
}

async function httpStatus(url: string): Promise<number | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.status === 200 ? 200 : undefined;
}

describe('entrypoints in a chroot as 65532', () => {
  it('control plane: --help, and /healthz served with NATS, Redis and Kubernetes reachable', async () => {
    const help = await runToEnd('control-plane', ['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('usage: control-plane');

    const kube = inject('kube');
    let nats: NatsServer | undefined;
    let redis: RedisServer | undefined;
    try {
      nats = await startNats({ jetstream: true });
      redis = await startRedis();
      // The root sees only its own files: credentials, CA and kubeconfig go into its /tmp.
      const root = roots.get('control-plane') ?? '';
      const secrets = join(root, 'tmp', 'secrets');
      mkdirSync(secrets, { recursive: true });
      const place = (from: string, name: string) => {
        copyFileSync(from, join(secrets, name));
        chownSync(join(secrets, name), 65532, 65532);
        chmodSync(join(secrets, name), 0o600);
        return `/tmp/secrets/${name}`;
      };
      const port = await freePort();
      const child = inRoot('control-plane', [], {
        EP_NATS_URL: nats.url,
        EP_NATS_CREDS: place(await nats.credsFile('control-plane'), 'nats.creds'),
        EP_NATS_CA: place(nats.caFile ?? '', 'nats-ca.pem'),
        EP_REDIS_URL: redis.url,
        EP_KUBECONFIG: place(kube.kubeconfigPath, 'kubeconfig'),
        EP_API_ADDR: `127.0.0.1:${port}`,
        EP_LEASE_NAMESPACE: 'default',
        EP_LEASE_NAME: `ep-image-${port}`,
        EP_LOG_LEVEL: 'info',
      });
      const output = collect(child);
      const started = Date.now();
      await until('control plane /healthz', 60_000, () => httpStatus(`http://127.0.0.1:${port}/healthz`), child, output);
      console.log(`[images] control plane in its image root answered /healthz ${Date.now() - started} ms after start`);
      await stop(child);
      expect(child.exitCode).toBe(0);
    } finally {
      await nats?.stop();
      await redis?.stop();
    }
  }, 120_000);

  it('agent: --version and --help', async () => {
    const version = await runToEnd('agent', ['--version']);
    expect(version.code).toBe(0);
    expect(version.out).toContain(`edgeplane-agent ${image('agent').reference.split(':')[1]}`);
    const help = await runToEnd('agent', ['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--nats-url');
  });

  it('nats-server: --version, and /healthz on its monitor port', async () => {
    const version = await runToEnd('nats-server', ['--version']);
    expect(version.code).toBe(0);
    expect(version.out).toContain(`v${image('nats-server').reference.split(':')[1]}`);
    const [port, monitor] = [await freePort(), await freePort()];
    const child = inRoot('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-js', '-sd', '/tmp/jetstream']);
    const output = collect(child);
    await until('nats-server /healthz', 30_000, () => httpStatus(`http://127.0.0.1:${monitor}/healthz`), child, output);
    await stop(child);
  }, 60_000);

  it('redis-server: --version, and PING answered', async () => {
    const version = await runToEnd('redis-server', ['--version']);
    expect(version.code).toBe(0);
    expect(version.out).toContain(`v=${image('redis-server').reference.split(':')[1]}`);
    const port = await freePort();
    const child = inRoot('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no']);
    const output = collect(child);
    const ping = () =>
      new Promise<string | undefined>((resolve) => {
        const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
        socket.once('data', (d) => {
          socket.destroy();
          resolve(d.toString());
        });
        socket.once('error', () => resolve(undefined));
      });
    expect(await until('redis PING', 30_000, ping, child, output)).toBe('+PONG\r\n');
    await stop(child);
  }, 60_000);
});
