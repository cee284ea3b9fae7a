// The fleet view's rows: nodes matching the filter, grouped by site, flattened into one list
// (group headers and nodes) for the virtualised list.
import type { FleetNode } from '../../api/src/dashboard.ts';

export type FleetRow = { kind: 'site'; site: string; count: number; ready: number } | { kind: 'node'; node: FleetNode };

export const NO_SITE = '(no site)';
/** One collator: localeCompare with options builds a new one per call, slow over 5,000 names. */
const byName = new Intl.Collator(undefined, { numeric: true }).compare;

/** Every word a node can be found by: name, site, labels, accelerators, power, link, tiers. */
export function searchText(node: FleetNode): string {
  const parts: string[] = [node.name, node.site ?? NO_SITE, node.ready ? 'ready' : 'notready', node.reachable ? '' : 'unreachable'];
  for (const [k, v] of Object.entries(node.labels)) parts.push(`${k}=${v}`);
  for (const a of node.accelerators) parts.push(a.id, a.type, a.model ?? '');
  if (node.power) parts.push(node.power.source, node.power.charging ? 'charging' : '');
  if (node.link) parts.push(node.link.type, node.link.metered ? 'metered' : '');
  for (const w of node.workloads) parts.push(w.deployment, w.variant, w.precision ?? '', w.phase);
  return parts.join(' ').toLowerCase();
}

/** Every whitespace-separated term must appear (AND); case-insensitive. */
export function matches(node: FleetNode, filter: string, text = searchText(node)): boolean {
  const terms = filter.toLowerCase().split(/\s+/).filter(Boolean);
  return terms.every((t) => text.includes(t));
}

/** Sites in name order (unlabelled last), nodes by name within each. */
export function fleetRows(nodes: Iterable<FleetNode>, filter: string, textOf: (n: FleetNode) => string = searchText): FleetRow[] {
  const bySite = new Map<string, FleetNode[]>();
  for (const node of nodes) {
    if (filter && !matches(node, filter, textOf(node))) continue;
    const site = node.site ?? NO_SITE;
    let list = bySite.get(site);
    if (!list) bySite.set(site, (list = []));
    list.push(node);
  }
  const sites = [...bySite.keys()].sort((a, b) => (a === NO_SITE ? 1 : b === NO_SITE ? -1 : byName(a, b)));
  const rows: FleetRow[] = [];
  for (const site of sites) {
    const list = bySite.get(site)!.sort((a, b) => byName(a.name, b.name));
    rows.push({ kind: 'site', site, count: list.length, ready: list.filter((n) => n.ready).length });
    for (const node of list) rows.push({ kind: 'node', node });
  }
  return rows;
}

/** Which rows a viewport shows: [start, end) with `overscan` rows either side. */
export function visibleRange(scrollTop: number, viewportPx: number, rowPx: number, total: number, overscan = 8): { start: number; end: number } {
  const count = Math.ceil(viewportPx / rowPx) + 1;
  // A scroll position past the end (the list just got shorter) shows the last rows.
  const first = Math.min(Math.floor(Math.max(0, scrollTop) / rowPx), Math.max(0, total - count));
  return { start: Math.max(0, first - overscan), end: Math.min(total, first + count + overscan) };
}

/**
 * The same rows with each node replaced by its newest object, when only nodes' contents changed
 * (no node came or went, none moved site, no filter to re-apply): no sort, one pass.
 */
export function refreshRows(rows: FleetRow[], nodes: ReadonlyMap<string, FleetNode>): FleetRow[] | null {
  const out: FleetRow[] = new Array(rows.length);
  let header = -1;
  let ready = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row.kind === 'site') {
      if (header >= 0) out[header] = { ...(out[header] as Extract<FleetRow, { kind: 'site' }>), ready };
      header = i;
      ready = 0;
      out[i] = row;
      continue;
    }
    const node = nodes.get(row.node.name);
    if (!node || (node.site ?? NO_SITE) !== (row.node.site ?? NO_SITE)) return null;
    if (node.ready) ready++;
    out[i] = node === row.node ? row : { kind: 'node', node };
  }
  if (header >= 0) out[header] = { ...(out[header] as Extract<FleetRow, { kind: 'site' }>), ready };
  return out;
}
