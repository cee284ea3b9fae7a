import { describe, expect, it } from 'vitest';
import { href, parseRoute } from './router.ts';

describe('router', () => {
  it.each([
    { hash: '', want: { view: 'fleet', filter: '' } },
    { hash: '#/?q=gpu%20lte', want: { view: 'fleet', filter: 'gpu lte' } },
    { hash: href.node('pi handheld/1'), want: { view: 'node', name: 'pi handheld/1' } },
    { hash: href.deployment('warehouse', 'ocr-line'), want: { view: 'deployment', namespace: 'warehouse', name: 'ocr-line' } },
    { hash: href.deploymentKey('warehouse/ocr-line'), want: { view: 'deployment', namespace: 'warehouse', name: 'ocr-line' } },
    { hash: '#/elsewhere', want: { view: 'missing', hash: '#/elsewhere' } },
  ])('$hash', ({ hash, want }) => {
    expect(parseRoute(hash)).toEqual(want);
  });
});
