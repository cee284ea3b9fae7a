// Deployment: replicas by phase and precision, each placement with its tier and why, the
// replicas no node could take and why, and the resource's Events.
import { useMemo, useRef, useState } from 'preact/hooks';
import type { DashEscalation, DashEvent, DashPlacement, DeploymentView } from '../../../api/src/dashboard.ts';
import { escalationFacts } from '../escalation.ts';
import type { DashboardApi } from '../api.ts';
import { deploymentKey } from '../fleet-state.ts';
import { ago, ms } from '../format.ts';
import { html } from '../html.ts';
import type { LiveSnapshot } from '../live.ts';
import { href } from '../router.ts';
import { useResource } from '../use-resource.ts';
import { PhaseChip, TierChip } from '../components/widgets.ts';

function Breakdown({ title, counts, chip }: { title: string; counts: Partial<Record<string, number>>; chip: 'phase' | 'tier' }) {
  const entries = Object.entries(counts).filter(([, n]) => (n ?? 0) > 0);
  return html`<div class="breakdown"><h3>${title}</h3>
    ${entries.length === 0
      ? html`<p class="muted">none</p>`
      : html`<ul class="chips">${entries.map(([k, n]) => html`<li><strong>${n}</strong> ${chip === 'phase' ? html`<${PhaseChip} phase=${k} />` : html`<${TierChip} precision=${k} />`}</li>`)}</ul>`}
  </div>`;
}

function LatencyBar({ p99, slo }: { p99: number | null; slo: number }) {
  if (p99 === null) return html`<span class="muted">not measured</span>`;
  const ratio = p99 / slo;
  const cls = ratio > 1 ? 'bad' : ratio > 0.8 ? 'warn' : 'ok';
  return html`<span class="latency" title=${`p99 ${ms(p99)} against an SLO of ${ms(slo)}`}>
    <span class="latency-bar"><span class=${`latency-fill ${cls}`} style=${`width:${Math.min(100, ratio * 100)}%`}></span></span>
    <span>${ms(p99)} <span class="muted">/ ${ms(slo)}</span></span>
  </span>`;
}

export function EventsTable({ events }: { events: DashEvent[] }) {
  if (events.length === 0) return html`<p class="muted">No events.</p>`;
  return html`<table class="table events">
    <thead><tr><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col">Count</th><th scope="col">Last</th></tr></thead>
    <tbody>${events.map(
      (e) => html`<tr><td><span class=${`status ${e.type === 'Warning' ? 'warn' : 'ok'}`}>${e.type}</span></td><td>${e.reason}</td><td>${e.message}</td><td>${e.count}</td><td>${ago(e.lastMs)}</td></tr>`,
    )}</tbody>
  </table>`;
}

/** Joint inference: the escalation tier (a deployment in the same namespace) and how it is used. */
function Escalation({ namespace, escalation }: { namespace: string; escalation: DashEscalation }) {
  return html`<section class="escalation" aria-labelledby="escalation-title" data-testid="escalation">
    <h2 id="escalation-title">Joint inference</h2>
    ${escalation.unavailable
      ? html`<div class="banner warn" role="status" data-testid="escalation-unavailable"><strong>EscalationAvailable False: ${escalation.unavailable.reason}</strong> — ${escalation.unavailable.message}</div>`
      : null}
    <dl class="facts">
      <div><dt>Escalation tier</dt><dd><a href=${href.deployment(namespace, escalation.deployment)}>${namespace}/${escalation.deployment}</a></dd></div>
      ${escalationFacts(escalation).map((f) => html`<div data-testid=${`escalation-${f.key}`}><dt>${f.label}</dt><dd>${f.key === 'available' ? html`<span class=${`status ${escalation.available ? 'ok' : 'warn'}`}>${f.value}</span>` : f.value}</dd></div>`)}
    </dl>
  </section>`;
}

/** Placements shown at first, and per "Show more": a table of thousands of rows is slow to lay out. */
const PLACEMENTS_SHOWN = 200;
const PLACEMENTS_MORE = 1000;

/** Replicas that need a look first: not Ready, then furthest over their SLO; then by node. */
function ordered(placements: DashPlacement[]): DashPlacement[] {
  const badness = (p: DashPlacement) => (p.phase === 'Ready' ? 0 : 1e6) + (p.p99Ms === null ? 0 : p.p99Ms / p.sloP99Ms);
  return [...placements].sort((a, b) => badness(b) - badness(a) || a.node.localeCompare(b.node));
}

function Body({ view }: { view: DeploymentView }) {
  const [limit, setLimit] = useState(PLACEMENTS_SHOWN);
  const sorted = useMemo(() => ordered(view.placements), [view.placements]);
  const shown = sorted.slice(0, limit);
  return html`
    ${view.degraded
      ? html`<div class="banner warn" role="status" data-testid="degraded"><strong>Degraded: ${view.degraded.reason}</strong> — ${view.degraded.message}</div>`
      : null}
    <p class="summary">${view.readyReplicas}/${view.replicas} replicas ready; p99 SLO ${ms(view.sloP99Ms)}</p>
    <div class="breakdowns">
      <${Breakdown} title="Replicas by phase" counts=${view.phases} chip="phase" />
      <${Breakdown} title="Replicas by precision" counts=${view.precisions} chip="tier" />
    </div>
    ${view.escalation ? html`<${Escalation} namespace=${view.namespace} escalation=${view.escalation} />` : null}
    <h2>Placements</h2>
    ${view.placements.length === 0
      ? html`<p class="muted">No replica is placed.</p>`
      : html`<table class="table placements">
          <thead><tr><th scope="col">Node</th><th scope="col">Accelerator</th><th scope="col">Variant</th><th scope="col">Tier</th><th scope="col">Phase</th><th scope="col">p99 vs SLO</th><th scope="col">Why this tier</th></tr></thead>
          <tbody>${shown.map(
            (p) => html`<tr data-node=${p.node}>
              <th scope="row"><a href=${href.node(p.node)}>${p.node}</a></th>
              <td>${p.accelerator}</td>
              <td>${p.variant}</td>
              <td><${TierChip} precision=${p.precision} /></td>
              <td><${PhaseChip} phase=${p.phase} />${p.message ? html`<div class="muted small">${p.message}</div>` : null}</td>
              <td><${LatencyBar} p99=${p.p99Ms} slo=${p.sloP99Ms} /><div class="muted small">predicted ${ms(p.predictedP99Ms)}</div></td>
              <td class="reason">${p.tierReason}</td>
            </tr>`,
          )}</tbody>
        </table>
        ${shown.length < sorted.length
          ? html`<p><button type="button" class="more" onClick=${() => setLimit(limit + PLACEMENTS_MORE)}>Show ${Math.min(PLACEMENTS_MORE, sorted.length - shown.length)} more</button> <span class="muted">${shown.length} of ${sorted.length} shown, those needing a look first</span></p>`
          : null}`}
    <h2>Unplaced replicas</h2>
    ${view.unplaced.count === 0
      ? html`<p class="muted">Every replica is placed.</p>`
      : html`<div class="banner warn" data-testid="unplaced"><strong>${view.unplaced.count} replica${view.unplaced.count === 1 ? '' : 's'} unplaced.</strong> ${view.unplaced.explanation ?? ''}</div>`}
    <h2>Events</h2>
    <${EventsTable} events=${view.events} />`;
}

export function DeploymentPage({ api, live, namespace, name }: { api: DashboardApi; live: LiveSnapshot; namespace: string; name: string }) {
  const key = deploymentKey(namespace, name);
  // Reload when the stream says this deployment or a node running it changed.
  const refresh = useRef(0);
  const seenVersion = useRef(live.version);
  const touched =
    seenVersion.current !== live.version &&
    (
    live.changedDeployments.has(key) ||
    [...live.changedNodes].some((n) => live.state.nodes.get(n)?.workloads.some((w) => w.deployment === key) ?? false));
  seenVersion.current = live.version;
  if (touched) refresh.current++;
  // A deployment over hundreds of nodes changes every moment: read it at most every 5 s.
  const large = useRef(false);
  const res = useResource((signal) => api.deployment(namespace, name, signal), key, refresh.current, large.current ? 5000 : 1000);
  large.current = (res.data?.placements.length ?? 0) > 500;
  const title = useMemo(() => `${namespace}/${name}`, [namespace, name]);
  // The same element while the data is the same: Preact then skips the table when the stream
  // changes only something else.
  const body = useMemo(() => (res.data ? html`<${Body} view=${res.data} />` : null), [res.data]);
  return html`<section aria-labelledby="deployment-title" class="deployment">
    <nav class="crumbs" aria-label="Breadcrumb"><a href=${href.fleet()}>Fleet</a> › <span>Deployment</span></nav>
    <h1 id="deployment-title" tabindex="-1">${title}</h1>
    ${res.error ? html`<div class="banner bad" role="alert">${res.error}</div>` : null}
    ${body ?? (res.loading ? html`<p class="muted">Loading…</p>` : null)}
  </section>`;
}
