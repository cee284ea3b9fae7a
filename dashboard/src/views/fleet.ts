// Fleet: deployments at a glance, then every node grouped by site, filterable, in a
// virtualised list.
import { useLayoutEffect, useMemo, useRef } from 'preact/hooks';
import type { FleetDeployment, FleetNode } from '../../../api/src/dashboard.ts';
import { fleetRows, refreshRows, searchText, type FleetRow } from '../fleet-rows.ts';
import { html } from '../html.ts';
import type { LiveSnapshot } from '../live.ts';
import { href } from '../router.ts';
import { BatteryGauge, LinkBadge, PhaseChip, ReadyBadge, Tiers, TierChip } from '../components/widgets.ts';
import { VirtualList } from '../components/virtual-list.ts';

const ROW_PX = 44;
const textCache = new WeakMap<FleetNode, string>();
const cachedText = (node: FleetNode): string => {
  let text = textCache.get(node);
  if (text === undefined) textCache.set(node, (text = searchText(node)));
  return text;
};

function Counts({ counts, chip }: { counts: Partial<Record<string, number>>; chip: 'phase' | 'tier' }) {
  const entries = Object.entries(counts).filter(([, n]) => (n ?? 0) > 0);
  if (entries.length === 0) return html`<span class="muted">—</span>`;
  return html`<span class="counts">${entries.map(
    ([k, n]) => html`<span class="count">${n}×${chip === 'phase' ? html`<${PhaseChip} phase=${k} />` : html`<${TierChip} precision=${k} />`}</span>`,
  )}</span>`;
}

function Deployments({ deployments }: { deployments: FleetDeployment[] }) {
  if (deployments.length === 0) return html`<p class="muted">No deployments.</p>`;
  return html`<table class="table deployments">
    <caption class="sr-only">Deployments</caption>
    <thead><tr><th scope="col">Deployment</th><th scope="col">Ready</th><th scope="col">Phases</th><th scope="col">Precisions</th><th scope="col">Status</th></tr></thead>
    <tbody>
      ${deployments.map(
        (d) => html`<tr key=${`${d.namespace}/${d.name}`} data-deployment=${`${d.namespace}/${d.name}`}>
          <th scope="row"><a href=${href.deployment(d.namespace, d.name)}>${d.namespace}/${d.name}</a></th>
          <td>${d.readyReplicas}/${d.replicas}${d.unplacedReplicas > 0 ? html` <span class="tag warn">${d.unplacedReplicas} unplaced</span>` : null}</td>
          <td><${Counts} counts=${d.phases} chip="phase" /></td>
          <td><${Counts} counts=${d.precisions} chip="tier" /></td>
          <td>${d.degraded ? html`<span class="status warn" title=${d.degraded.message}>Degraded: ${d.degraded.reason}</span> <span class="degraded-message">${d.degraded.message}</span>` : html`<span class="status ok">Healthy</span>`}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function NodeRow({ node }: { node: FleetNode }) {
  return html`<div class="cell name" role="rowheader"><a href=${href.node(node.name)}>${node.name}</a></div>
    <div class="cell" role="cell"><${ReadyBadge} node=${node} /></div>
    <div class="cell accels" role="cell">${node.accelerators.map((a) => html`<span class="accel" title=${a.model ?? a.id}>${a.type} <span class="muted">${a.id}</span></span>`)}</div>
    <div class="cell" role="cell"><${BatteryGauge} power=${node.power} /></div>
    <div class="cell" role="cell"><${LinkBadge} node=${node} /></div>
    <div class="cell" role="cell"><${Tiers} workloads=${node.workloads} /></div>`;
}

function renderRow(row: FleetRow) {
  if (row.kind === 'site') {
    return html`<div class="cell site" role="rowheader" aria-colspan="6"><span class="site-name">${row.site}</span> <span class="muted">${row.count} nodes, ${row.ready} ready</span></div>`;
  }
  return html`<${NodeRow} node=${row.node} />`;
}

const keyOf = (row: FleetRow) => (row.kind === 'site' ? `site:${row.site}` : row.node.name);

export function FleetView({ live, filter, setFilter }: { live: LiveSnapshot; filter: string; setFilter: (f: string) => void }) {
  const { nodes, deployments } = live.state;
  // A full regroup and sort when the filter or the set of nodes changes; otherwise the stream's
  // upserts only swap node objects in place (5,000 nodes re-sorted every frame would not keep up).
  const last = useRef<{ rows: FleetRow[]; filter: string; size: number; version: number } | null>(null);
  const rows = useMemo(() => {
    const prev = last.current;
    const cheap = prev && prev.filter === filter && !filter && prev.size === nodes.size ? refreshRows(prev.rows, nodes) : null;
    const next = cheap ?? fleetRows(nodes.values(), filter, cachedText);
    last.current = { rows: next, filter, size: nodes.size, version: live.version };
    return next;
  }, [live.version, filter]);
  const shown = rows.reduce((n, r) => n + (r.kind === 'node' ? 1 : 0), 0);
  const deploymentList = useMemo(() => [...deployments.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)), [live.version]);
  const ready = useMemo(() => {
    let n = 0;
    for (const node of nodes.values()) if (node.ready) n++;
    return n;
  }, [live.version]);
  const loaded = live.state.atMs !== null;
  // The first render with the snapshot's rows, for the first load's split.
  useLayoutEffect(() => {
    if (loaded && nodes.size > 0 && performance.getEntriesByName('ep:fleet-rendered').length === 0) performance.mark('ep:fleet-rendered');
  }, [loaded, live.version]);

  return html`<section aria-labelledby="fleet-title" class="fleet" data-loaded=${loaded ? 'true' : 'false'} data-nodes=${nodes.size}>
    <h1 id="fleet-title" tabindex="-1">Fleet</h1>
    <p class="summary" data-testid="fleet-summary">${loaded ? `${nodes.size} nodes, ${ready} ready; ${deployments.size} deployments` : 'Loading…'}</p>
    <h2>Deployments</h2>
    <${Deployments} deployments=${deploymentList} />
    <h2 id="nodes-title">Nodes</h2>
    <div class="filter">
      <label for="node-filter">Filter nodes</label>
      <input id="node-filter" type="search" value=${filter} placeholder="name, site, GPU, battery, lte, int8, label=value…"
        onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} aria-describedby="filter-count" />
      <span id="filter-count" class="muted" aria-live="polite">${filter ? `${shown} of ${nodes.size} nodes match` : `${nodes.size} nodes`}</span>
    </div>
    ${loaded && rows.length === 0 ? html`<p class="muted" data-testid="no-nodes">${filter ? 'No node matches the filter.' : 'No nodes have joined yet.'}</p>` : null}
    <${VirtualList}
      rows=${rows}
      rowPx=${ROW_PX}
      label="Nodes by site"
      keyOf=${keyOf}
      renderRow=${renderRow}
      header=${html`<div class="vrow vhead" role="row" aria-rowindex="1">
        <div class="cell" role="columnheader">Node</div><div class="cell" role="columnheader">Readiness</div><div class="cell" role="columnheader">Accelerators</div>
        <div class="cell" role="columnheader">Power</div><div class="cell" role="columnheader">Link</div><div class="cell" role="columnheader">Tiers</div>
      </div>`}
    />
  </section>`;
}
