import { describe, expect, it } from 'vitest';
import { hasServeGrant, isNodeCredential, missingServeTags } from './grants.ts';

describe('serve grants', () => {
  const tags = ['serve:warehouse.ocr-line', 'other:thing'];
  it('finds the tag of a deployment', () => {
    expect(hasServeGrant(tags, { namespace: 'warehouse', deployment: 'ocr-line' })).toBe(true);
    expect(hasServeGrant(tags, { namespace: 'warehouse', deployment: 'ocr' })).toBe(false);
    expect(hasServeGrant(tags, { namespace: 'other', deployment: 'ocr-line' })).toBe(false);
  });
  it('lists what is missing, once each, sorted', () => {
    const ds = [
      { namespace: 'b', deployment: 'y' },
      { namespace: 'warehouse', deployment: 'ocr-line' },
      { namespace: 'a', deployment: 'x' },
      { namespace: 'a', deployment: 'x' },
    ];
    expect(missingServeTags(tags, ds)).toEqual(['serve:a.x', 'serve:b.y']);
  });
  it('gates only a credential issued to this node', () => {
    expect(isNodeCredential('gw-a', 'gw-a')).toBe(true);
    expect(isNodeCredential('control-plane', 'gw-a')).toBe(false);
  });
});
