import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { canonicalJson, fullReference, gzipLayer, imageConfig, imageIndex, imageManifest, layerFrom, layoutFiles, sha256 } from './oci.ts';

describe('OCI documents', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } }).toString()).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('gzips a layer to the same bytes twice, with mtime 0 in the header', () => {
    const tar = Buffer.alloc(4096, 7);
    const a = gzipLayer(tar);
    expect(a.equals(gzipLayer(tar))).toBe(true);
    expect(a.readUInt32LE(4)).toBe(0);
    expect(gunzipSync(a).equals(tar)).toBe(true);
  });

  it('ties config, manifest and index together by digest', () => {
    const layer = layerFrom(Buffer.alloc(1024), 'test layer');
    const config = imageConfig({
      architecture: 'amd64',
      user: '65532:65532',
      entrypoint: ['/x'],
      env: ['PATH=/usr/bin'],
      workingDir: '/',
      labels: { 'org.opencontainers.image.version': '1' },
      created: '2026-01-01T00:00:00Z',
      layers: [layer],
    });
    const parsed = JSON.parse(config.data.toString()) as { rootfs: { diff_ids: string[] }; config: { User: string } };
    expect(parsed.rootfs.diff_ids).toEqual([sha256(Buffer.alloc(1024))]);
    expect(parsed.config.User).toBe('65532:65532');
    const manifest = imageManifest(config, [layer], {});
    const index = JSON.parse(imageIndex(manifest, 'amd64', 'docker.io/edgeplane/agent:0.1.0').toString()) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    expect(index.manifests[0]?.digest).toBe(manifest.digest);
    expect(index.manifests[0]?.annotations).toEqual({ 'io.containerd.image.name': 'docker.io/edgeplane/agent:0.1.0', 'org.opencontainers.image.ref.name': '0.1.0' });
    const files = layoutFiles(Buffer.from('{}'), [manifest, config, layer.gzip, layer.gzip]);
    expect(files.map((f) => f.path).slice(0, 2)).toEqual(['oci-layout', 'index.json']);
    expect(files.length).toBe(5);
  });

  it('names images as containerd does', () => {
    expect(fullReference('edgeplane/agent:0.1.0')).toBe('docker.io/edgeplane/agent:0.1.0');
    expect(fullReference('busybox:1.37')).toBe('docker.io/library/busybox:1.37');
    expect(fullReference('registry.local:5000/edgeplane/agent:0.1.0')).toBe('registry.local:5000/edgeplane/agent:0.1.0');
  });
});
