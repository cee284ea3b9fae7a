// What `get deployments` prints about EdgeModelDeployments. Pure.
import type { EdgeModelDeployment } from '@edgeplane/api';
import { age, table } from './format.ts';

export function deploymentsTable(items: readonly EdgeModelDeployment[], allNamespaces: boolean, wide: boolean, nowMs = Date.now()): string {
  const headers = ['NAME', 'MODEL', 'READY', 'TIERS', 'DEGRADED', 'AGE'];
  if (allNamespaces) headers.unshift('NAMESPACE');
  if (wide) headers.push('UNPLACED', 'OBJECTIVE', 'SLO-P99', 'NODES');
  const rows = [...items]
    .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`))
    .map((d) => {
      const s = d.status;
      const row = [
        d.metadata.name,
        d.spec.model.name,
        s?.ready ?? `${s?.readyReplicas ?? 0}/${d.spec.replicas}`,
        s?.tiers,
        s?.conditions?.find((c) => c.type === 'Degraded')?.reason,
        age(d.metadata.creationTimestamp, nowMs),
      ];
      if (allNamespaces) row.unshift(d.metadata.namespace);
      if (wide) {
        row.push(
          String(s?.unplacedReplicas ?? 0),
          d.spec.tiering.objective,
          `${d.spec.slo.latencyMs}ms`,
          [...new Set((s?.placements ?? []).map((p) => p.node))].join(','),
        );
      }
      return row;
    });
  return table(headers, rows);
}
