// Small pieces of the fleet row and the node header: battery gauge, link, readiness, tiers.
import type { DashPower, DashWorkload, FleetNode } from '../../../api/src/dashboard.ts';
import { LINK_LABEL, formatMbps } from '../format.ts';
import { html } from '../html.ts';
import { href } from '../router.ts';

export function BatteryGauge({ power }: { power: DashPower | null }) {
  if (!power) return html`<span class="muted">—</span>`;
  if (power.batteryPercent === null) return html`<span class="power-mains" title="on ${power.source}">${power.source}</span>`;
  const pct = Math.max(0, Math.min(100, power.batteryPercent));
  const level = pct < 20 ? 'low' : pct < 50 ? 'mid' : 'high';
  const label = `battery ${Math.round(pct)}%${power.charging ? ', charging' : ''}`;
  return html`<span class="battery" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(pct)} aria-label=${label} title=${label}>
    <span class="battery-body"><span class=${`battery-fill ${level}`} style=${`width:${pct}%`}></span></span>
    <span class="battery-text">${Math.round(pct)}%${power.charging ? html`<span class="charging" aria-hidden="true"> ⚡</span>` : null}</span>
  </span>`;
}

export function LinkBadge({ node }: { node: Pick<FleetNode, 'link'> }) {
  const link = node.link;
  if (!link) return html`<span class="muted">—</span>`;
  return html`<span class=${`link link-${link.type}`} title=${link.rttMs === null ? '' : `rtt ${link.rttMs} ms`}>
    ${LINK_LABEL[link.type]}${link.bandwidthMbps === null ? null : html` <span class="muted">${formatMbps(link.bandwidthMbps)}</span>`}${link.metered ? html` <span class="tag">metered</span>` : null}
  </span>`;
}

export function ReadyBadge({ node }: { node: Pick<FleetNode, 'ready' | 'reachable' | 'unschedulable'> }) {
  const [cls, text] = !node.reachable ? ['bad', 'Unreachable'] : node.ready ? ['ok', 'Ready'] : ['warn', 'NotReady'];
  return html`<span class=${`status ${cls}`}>${text}${node.unschedulable ? html` <span class="tag">cordoned</span>` : null}</span>`;
}

export function TierChip({ precision }: { precision: string | null }) {
  return html`<span class=${`tier tier-${precision ?? 'none'}`}>${precision ?? '—'}</span>`;
}

export function PhaseChip({ phase }: { phase: string }) {
  return html`<span class=${`phase phase-${phase.toLowerCase()}`}>${phase}</span>`;
}

/** The node's workloads as links to their deployments, each with its tier. */
export function Tiers({ workloads }: { workloads: DashWorkload[] }) {
  if (workloads.length === 0) return html`<span class="muted">none</span>`;
  return html`<span class="tiers">${workloads.map(
    (w) => html`<a class="tier-link" href=${href.deploymentKey(w.deployment)} title=${`${w.deployment}: ${w.variant} on ${w.accelerator}, ${w.phase}`}>
      ${w.deployment.slice(w.deployment.indexOf('/') + 1)} <${TierChip} precision=${w.precision} />
    </a>`,
  )}</span>`;
}
