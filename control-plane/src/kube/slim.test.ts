import { describe, expect, it } from 'vitest';
import { dropManagedFields, skeletonize } from './slim.ts';

const raw = () => ({
  apiVersion: 'edgeplane.io/v1alpha1',
  kind: 'EdgeNode',
  metadata: {
    name: 'n1',
    namespace: 'ns',
    resourceVersion: '42',
    uid: 'u',
    labels: { site: 'a' },
    managedFields: [{ manager: 'edgeplane', operation: 'Apply', fieldsV1: { 'f:status': {} } }],
  },
  spec: { site: 'a' },
  status: { phase: 'Ready' },
});

describe('informer raw objects', () => {
  it('drops managedFields and keeps the rest of the metadata', () => {
    const o = raw();
    dropManagedFields(o);
    expect(o.metadata).not.toHaveProperty('managedFields');
    expect(o.metadata.labels).toEqual({ site: 'a' });
    expect(o.status).toEqual({ phase: 'Ready' });
  });

  it('keeps only what ListWatch compares', () => {
    const o = raw();
    skeletonize(o);
    expect(o).toEqual({ apiVersion: 'edgeplane.io/v1alpha1', kind: 'EdgeNode', metadata: { name: 'n1', namespace: 'ns', resourceVersion: '42' } });
  });

  it('tolerates an object without metadata', () => {
    const o: { kind: string; spec?: unknown } = { kind: 'X', spec: {} };
    skeletonize(o);
    expect(o).toEqual({ kind: 'X' });
  });
});
