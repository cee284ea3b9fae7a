import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../errors.ts';
import { loadKubeConfig } from './client.ts';

const dir = mkdtempSync(join(tmpdir(), 'ep-kubeconfig-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('loadKubeConfig', () => {
  const bad = [
    { name: 'missing file', path: join(dir, 'absent') },
    { name: 'no cluster', path: file('empty.yaml', 'apiVersion: v1\nkind: Config\n') },
  ];
  for (const row of bad) {
    it(`names EP_KUBECONFIG for a ${row.name}`, () => {
      let err: unknown;
      try {
        loadKubeConfig({ source: 'file', path: row.path });
      } catch (e) {
        err = e;
      }
      expect(isConfigError(err) && err.setting).toBe('EP_KUBECONFIG (--kubeconfig)');
    });
  }

  it('loads a kubeconfig with a current cluster', () => {
    const path = file(
      'ok.yaml',
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    expect(loadKubeConfig({ source: 'file', path }).getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });
});
