import { describe, expect, it } from 'vitest';
import type { EdgeModelDeployment } from '@edgeplane/api';
import { EscalationIndex } from './escalation-index.ts';

const emd = (name: string, o: { to?: string; ready?: number; deleting?: boolean } = {}): EdgeModelDeployment =>
  ({
    metadata: { name, namespace: 'ns', ...(o.deleting ? { deletionTimestamp: '2030-01-01T00:00:00Z' } : {}) },
    spec: o.to ? { escalation: { deployment: o.to } } : {},
    ...(o.ready !== undefined ? { status: { readyReplicas: o.ready } } : {}),
  }) as EdgeModelDeployment;

describe('EscalationIndex', () => {
  it('requeues the deployments escalating to a tier when it becomes available or not, and not otherwise', () => {
    const x = new EscalationIndex();
    expect(x.observe('add', 'ns/ocr', emd('ocr', { to: 'big' }))).toEqual([]);
    expect(x.observe('add', 'ns/det', emd('det', { to: 'big' }))).toEqual([]);
    expect(x.dependentsOf('ns/big')).toEqual(['ns/det', 'ns/ocr']);
    // Created with no Ready replica: still unavailable.
    expect(x.observe('add', 'ns/big', emd('big'))).toEqual(['ns/det', 'ns/ocr']);
    expect(x.observe('update', 'ns/big', emd('big', { ready: 0 }))).toEqual([]);
    expect(x.observe('update', 'ns/big', emd('big', { ready: 1 }))).toEqual(['ns/det', 'ns/ocr']);
    // More replicas Ready: no change of availability, no requeue (its status writes cost nothing).
    expect(x.observe('update', 'ns/big', emd('big', { ready: 3 }))).toEqual([]);
    expect(x.observe('update', 'ns/big', emd('big', { ready: 3, deleting: true }))).toEqual(['ns/det', 'ns/ocr']);
    expect(x.observe('delete', 'ns/big', emd('big', { ready: 3, deleting: true }))).toEqual([]);
  });

  it('follows a deployment that changes or drops its tier, and forgets deleted ones', () => {
    const x = new EscalationIndex();
    x.observe('add', 'ns/ocr', emd('ocr', { to: 'big' }));
    x.observe('update', 'ns/ocr', emd('ocr', { to: 'bigger' }));
    expect(x.dependentsOf('ns/big')).toEqual([]);
    expect(x.dependentsOf('ns/bigger')).toEqual(['ns/ocr']);
    x.observe('update', 'ns/ocr', emd('ocr'));
    expect(x.dependentsOf('ns/bigger')).toEqual([]);
    x.observe('update', 'ns/ocr', emd('ocr', { to: 'big' }));
    x.observe('delete', 'ns/ocr', emd('ocr', { to: 'big' }));
    expect(x.dependentsOf('ns/big')).toEqual([]);
    expect(x.observe('add', 'ns/big', emd('big', { ready: 1 }))).toEqual([]);
  });
});
