import { describe, expect, it } from 'vitest';
import { Escalation, type Assignment } from '@edgeplane/api';
import { credentialTagsOf, escalateTagsOf } from './serve-tags.ts';

const escalation = (deployment: string) => Escalation.parse({ deployment, rule: { confidenceBelow: 0.5 } });
const workload = (namespace: string, deployment: string, to?: string) =>
  ({ namespace, deployment, ...(to ? { escalation: escalation(to) } : {}) }) as Assignment['workloads'][number];
const assignment = (...workloads: Assignment['workloads']): Assignment => ({ v: 1, node: 'n', workloads, issuedAtMs: 1 });

describe('escalate tags from an assignment', () => {
  it.each([
    { name: 'no assignment', a: null, want: [] },
    { name: 'no workload escalates', a: assignment(workload('a', 'x')), want: [] },
    {
      name: 'one per tier, in the workload namespace, sorted, no duplicates',
      a: assignment(workload('b', 'y', 'big'), workload('a', 'x', 'big'), workload('b', 'z', 'big'), workload('a', 'w', 'huge')),
      want: ['escalate:a.big', 'escalate:a.huge', 'escalate:b.big'],
    },
  ] as { name: string; a: Assignment | null; want: string[] }[])('$name', ({ a, want }) => {
    expect(escalateTagsOf(a)).toEqual(want);
  });

  it('a credential carries both kinds, sorted', () => {
    expect(credentialTagsOf(assignment(workload('ns', 'ocr', 'big'), workload('ns', 'det')))).toEqual(['escalate:ns.big', 'serve:ns.det', 'serve:ns.ocr']);
  });
});
