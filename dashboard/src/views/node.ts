// Node: its accelerators with utilisation, its workloads, and the last hour of battery, link
// class, tier per workload and p99, with tier changes marked.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { DashWorkload, FleetNode, HistorySample, NodeDetail } from '../../../api/src/dashboard.ts';
import type { DashboardApi } from '../api.ts';
import { LINK_LABEL, LINK_ORDER, PRECISION_ORDER, ago, clock, ms } from '../format.ts';
import { html } from '../html.ts';
import type { LiveFleet, LiveSnapshot } from '../live.ts';
import { liveRow, mergeSamples, nodeSeries } from '../node-series.ts';
import { href } from '../router.ts';
import { useResource } from '../use-resource.ts';
import { BatteryGauge, LinkBadge, PhaseChip, ReadyBadge, TierChip } from '../components/widgets.ts';
import { Timeline, type TimelineMarker } from '../components/timeline.ts';
import { EventsTable } from './deployment.ts';

const HOUR_MS = 3_600_000;
const MIN_SPAN_MS = 30_000;
const COLORS = ['#2563eb', '#16a34a', '#9333ea', '#d97706', '#0891b2', '#db2777'];
const short = (deployment: string) => deployment.slice(deployment.indexOf('/') + 1);

function Accelerators({ detail }: { detail: NodeDetail }) {
  return html`<table class="table accelerators">
    <thead><tr><th scope="col">Accelerator</th><th scope="col">Model</th><th scope="col">Precisions</th><th scope="col">Memory</th><th scope="col">Utilisation</th></tr></thead>
    <tbody>${detail.accelerators.map((a) => {
      const u = a.utilization === null ? null : Math.round(a.utilization * 100);
      return html`<tr>
        <th scope="row">${a.type} <span class="muted">${a.id}</span></th>
        <td>${a.vendor ? `${a.vendor} ` : ''}${a.model ?? ''}</td>
        <td>${a.precisions.map((p) => html`<${TierChip} precision=${p} /> `)}</td>
        <td>${a.memoryMiB} MiB</td>
        <td>${u === null
          ? html`<span class="muted">—</span>`
          : html`<span class="util" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${u} aria-label=${`${a.id} utilisation ${u}%`}>
              <span class="util-bar"><span class="util-fill" style=${`width:${u}%`}></span></span> ${u}%${a.queue ? html` <span class="muted">queue ${a.queue}</span>` : null}</span>`}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

/** The live node's workloads (tiers as the stream has them), with p99 and rate from its detail. */
function Workloads({ node, detail }: { node: FleetNode; detail: NodeDetail | null }) {
  if (node.workloads.length === 0) return html`<p class="muted">No workloads.</p>`;
  const measured = new Map<string, DashWorkload>((detail?.workloads ?? []).map((w) => [`${w.deployment}|${w.variant}|${w.accelerator}`, w]));
  return html`<table class="table workloads">
    <thead><tr><th scope="col">Deployment</th><th scope="col">Variant</th><th scope="col">Tier</th><th scope="col">Accelerator</th><th scope="col">Phase</th><th scope="col">p99</th><th scope="col">Requests/s</th></tr></thead>
    <tbody>${node.workloads.map((w) => ({ ...w, p99Ms: null, rps: null, ...measured.get(`${w.deployment}|${w.variant}|${w.accelerator}`), precision: w.precision, phase: w.phase })).map(
      (w) => html`<tr data-deployment=${w.deployment} data-tier=${w.precision ?? ''}>
        <th scope="row"><a href=${href.deploymentKey(w.deployment)}>${w.deployment}</a></th>
        <td>${w.variant}</td><td><${TierChip} precision=${w.precision} /></td><td>${w.accelerator}</td>
        <td><${PhaseChip} phase=${w.phase} /></td><td>${ms(w.p99Ms)}</td><td>${w.rps === null ? '—' : w.rps.toFixed(1)}</td>
      </tr>`,
    )}</tbody>
  </table>`;
}

function Timelines({ api, live, fleet, name }: { api: DashboardApi; live: FleetNode | undefined; fleet: LiveFleet; name: string }) {
  const history = useResource((signal) => api.nodeHistory(name, signal), name, 0);
  const [samples, setSamples] = useState<HistorySample[]>([]);
  useEffect(() => {
    setSamples([]);
    return fleet.onSample((node, sample) => {
      if (node === name) setSamples((s) => [...s.slice(-400), sample]);
    });
  }, [name]);
  // The clock moves the window even when nothing changes.
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), 5000);
    return () => window.clearInterval(timer);
  }, []);
  const nowMs = Math.max(now, Date.now());

  // Every state the stream delivered, as a row at the time it came: a tier change between two
  // of them is marked even before the next history sample.
  const [seen, setSeen] = useState<HistorySample[]>([]);
  // The newest sample with measured latencies, for the p99 of the rows the stream's states make.
  const latest = useRef<HistorySample | undefined>(undefined);
  const lastHistoryRow = useMemo(() => (history.data ? mergeSamples(history.data, []).at(-1) : undefined), [history.data]);
  latest.current = samples.at(-1) ?? lastHistoryRow;
  useEffect(() => setSeen([]), [name]);
  useEffect(() => {
    if (live) setSeen((rows) => [...rows.filter((r) => r.t > Date.now() - HOUR_MS).slice(-1000), liveRow(live, Date.now(), latest.current)]);
  }, [live?.rev]);

  const series = useMemo(() => {
    if (!history.data) return null;
    const rows = mergeSamples(history.data, [...samples, ...seen]);
    if (live) rows.push(liveRow(live, Math.max(nowMs, (rows.at(-1)?.t ?? 0) + 1), rows.at(-1)));
    return nodeSeries(rows, nowMs - HOUR_MS);
  }, [history.data, samples, seen, live, nowMs]);

  if (history.error) return html`<div class="banner bad" role="alert">History: ${history.error}</div>`;
  if (!series) return html`<p class="muted">Loading history…</p>`;
  const markers: TimelineMarker[] = series.tierChanges.map((c) => ({ t: c.t, label: `${short(c.deployment)} ${c.from ?? '—'}→${c.to ?? '—'}` }));
  const lastBattery = [...series.battery].reverse().find((v) => v !== null);
  const lastLink = [...series.link].reverse().find((v) => v !== null);
  // Up to the hour; a node known for less (a fresh start) gets its own span, at least 30 s.
  const fromMs = Math.max(nowMs - HOUR_MS, Math.min((series.t[0] ?? nowMs) - 5_000, nowMs - MIN_SPAN_MS));
  const common = { t: series.t, markers, fromMs, toMs: nowMs };
  return html`<div class="timelines">
    <${Timeline} ...${common} id="plot-battery" title="Battery, %" summary=${lastBattery === undefined ? 'no battery' : `now ${Math.round(lastBattery)}%`}
      series=${[{ label: 'battery %', values: series.battery, color: '#16a34a' }]} y=${{ min: 0, max: 100, unit: '%' }} />
    <${Timeline} ...${common} id="plot-link" title="Link class" summary=${lastLink === undefined || lastLink === null ? 'unknown' : `now ${LINK_LABEL[LINK_ORDER[lastLink]!]}`}
      series=${[{ label: 'link', values: series.link, color: '#0891b2', step: true }]}
      y=${{ min: -0.5, max: LINK_ORDER.length - 0.5, ticks: LINK_ORDER.map((l, i) => ({ value: i, label: LINK_LABEL[l] })) }} />
    <${Timeline} ...${common} id="plot-tier" title="Tier per workload" summary=${`${series.tierChanges.length} tier changes in the hour`}
      series=${series.workloads.map((w, i) => ({ label: short(w.deployment), values: w.tier, color: COLORS[i % COLORS.length]!, step: true }))}
      y=${{ min: -0.5, max: PRECISION_ORDER.length - 0.5, ticks: PRECISION_ORDER.map((p, i) => ({ value: i, label: p })) }} />
    <${Timeline} ...${common} id="plot-p99" title="p99 per workload, ms" summary="measured p99 latency"
      series=${series.workloads.map((w, i) => ({ label: short(w.deployment), values: w.p99, color: COLORS[i % COLORS.length]! }))}
      y=${{ min: 0, max: Math.max(10, ...series.workloads.flatMap((w) => w.p99.filter((v): v is number => v !== null))) * 1.2, unit: ' ms' }} />
    ${series.tierChanges.length > 0
      ? html`<h3>Tier changes</h3><ul class="tier-changes">${series.tierChanges.map((c) => html`<li>${clock(c.t)} ${c.deployment}: ${c.from ?? '—'} → ${c.to ?? '—'}</li>`)}</ul>`
      : null}
  </div>`;
}

export function NodePage({ api, live, fleet, name }: { api: DashboardApi; live: LiveSnapshot; fleet: LiveFleet; name: string }) {
  const refresh = useRef(0);
  const seenVersion = useRef(live.version);
  if (seenVersion.current !== live.version && live.changedNodes.has(name)) refresh.current++;
  seenVersion.current = live.version;
  const detail = useResource((signal) => api.node(name, signal), name, refresh.current);
  const node: FleetNode | NodeDetail | undefined = live.state.nodes.get(name) ?? detail.data ?? undefined;
  const fleetNode = live.state.nodes.get(name);
  return html`<section aria-labelledby="node-title" class="node">
    <nav class="crumbs" aria-label="Breadcrumb"><a href=${href.fleet()}>Fleet</a> › ${node?.site ? html`<a href=${href.fleet(node.site)}>${node.site}</a> › ` : null}<span>Node</span></nav>
    <h1 id="node-title" tabindex="-1">${name}</h1>
    ${detail.error ? html`<div class="banner bad" role="alert">${detail.error}</div>` : null}
    ${node
      ? html`<dl class="facts" data-testid="node-facts">
          <div><dt>Readiness</dt><dd><${ReadyBadge} node=${node} /></dd></div>
          <div><dt>Power</dt><dd data-testid="node-power"><${BatteryGauge} power=${node.power} /></dd></div>
          <div><dt>Link</dt><dd><${LinkBadge} node=${node} /></dd></div>
          <div><dt>Last heartbeat</dt><dd>${detail.data ? ago(detail.data.lastSeenMs) : '…'}</dd></div>
        </dl>`
      : html`<p class="muted">Loading…</p>`}
    <h2>Accelerators</h2>
    ${detail.data ? html`<${Accelerators} detail=${detail.data} />` : html`<p class="muted">Loading…</p>`}
    <h2>Workloads</h2>
    ${node ? html`<${Workloads} node=${node} detail=${detail.data} />` : null}
    <h2>The last hour</h2>
    <${Timelines} api=${api} live=${fleetNode} fleet=${fleet} name=${name} />
    <h2>Events</h2>
    ${detail.data ? html`<${EventsTable} events=${detail.data.events} />` : null}
  </section>`;
}
