import { describe, expect, it } from 'vitest';
import { hasEscalateGrant, hasServeGrant, isNodeCredential, missingEscalateTags, missingGrantTags, missingServeTags } from './grants.ts';

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

describe('escalate grants', () => {
  const tags = ['serve:warehouse.ocr-lite', 'escalate:warehouse.ocr-full'];
  it('an escalate tag grants sending to that tier only, and a serve tag is not one', () => {
    expect(hasEscalateGrant(tags, { namespace: 'warehouse', deployment: 'ocr-full' })).toBe(true);
    expect(hasEscalateGrant(tags, { namespace: 'warehouse', deployment: 'ocr-lite' })).toBe(false);
    expect(hasServeGrant(tags, { namespace: 'warehouse', deployment: 'ocr-full' })).toBe(false);
  });
  it('a missing escalate tag is missing like a serve tag, so the same renewal asks for both', () => {
    expect(missingEscalateTags(tags, [{ namespace: 'warehouse', deployment: 'ocr-full' }, { namespace: 'a', deployment: 'big' }])).toEqual(['escalate:a.big']);
    const serve = [{ namespace: 'warehouse', deployment: 'ocr-lite' }, { namespace: 'a', deployment: 'small' }];
    const escalate = [{ namespace: 'a', deployment: 'big' }, { namespace: 'warehouse', deployment: 'ocr-full' }];
    expect(missingGrantTags(tags, serve, escalate)).toEqual(['escalate:a.big', 'serve:a.small']);
  });
});
