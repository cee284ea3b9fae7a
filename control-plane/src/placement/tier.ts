// Why a replica runs the variant it runs, in one sentence for Placement.tierReason.
import { capSentence } from './battery.ts';
import type { Candidate, NodeInfo, PlanContext } from './framework.ts';

function ms(x: number): string {
  return `${Math.round(x * 10) / 10} ms`;
}

export function tierReason(ctx: PlanContext, node: NodeInfo, c: Candidate): string {
  // Clauses joined by '; ' as they come, without an array per placement; the view is read only
  // for a cap or a lite link, which name its battery or link.
  let out = '';
  const cap = node.cap === 'fp32' ? undefined : capSentence(node.view.power, ctx.spec.tiering.battery, node.cap);
  if (cap !== undefined) out = `${cap}; `;
  if (node.liteLink) {
    const link = node.view.network?.type ?? 'link';
    out += c.variant.profile === 'lite' ? `${link} link: lite profile; ` : `${link} link: full variant already cached; `;
  }
  const at = `${c.variant.name} on ${c.accId} at ${ms(c.p99Ms)} ${c.measured ? 'measured' : 'predicted'}`;
  const slo = ms(ctx.sloMs);
  if (ctx.objective === 'latency') {
    return `${out}fastest with accuracy >= ${ctx.minAccuracy}: ${at}${c.meetsSlo ? '' : `, best effort over the ${slo} SLO`}`;
  }
  if (!c.meetsSlo) return `${out}no variant meets ${slo} here: best effort ${at}`;
  if (ctx.objective === 'energy') return `${out}least energy within ${slo}: ${at}, ${Number(c.joules.toPrecision(3))} J per inference`;
  return `${out}most accurate within ${slo}: ${at}`;
}
