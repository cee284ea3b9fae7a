// Why a replica runs the variant it runs, in one sentence for Placement.tierReason.
import { capSentence } from './battery.ts';
import type { Candidate, NodeInfo, PlanContext } from './framework.ts';

function ms(x: number): string {
  return `${Math.round(x * 10) / 10} ms`;
}

export function tierReason(ctx: PlanContext, node: NodeInfo, c: Candidate): string {
  const parts: string[] = [];
  const cap = capSentence(node.view.power, ctx.spec.tiering.battery, node.cap);
  if (cap !== undefined) parts.push(cap);
  if (node.liteLink) {
    const link = node.view.network?.type ?? 'link';
    parts.push(c.variant.profile === 'lite' ? `${link} link: lite profile` : `${link} link: full variant already cached`);
  }
  const at = `${c.variant.name} on ${c.accId} at ${ms(c.p99Ms)} ${c.measured ? 'measured' : 'predicted'}`;
  const slo = ms(ctx.sloMs);
  if (ctx.objective === 'latency') {
    parts.push(`fastest with accuracy >= ${ctx.minAccuracy}: ${at}${c.meetsSlo ? '' : `, best effort over the ${slo} SLO`}`);
  } else if (!c.meetsSlo) {
    parts.push(`no variant meets ${slo} here: best effort ${at}`);
  } else if (ctx.objective === 'energy') {
    parts.push(`least energy within ${slo}: ${at}, ${Number(c.joules.toPrecision(3))} J per inference`);
  } else {
    parts.push(`most accurate within ${slo}: ${at}`);
  }
  return parts.join('; ');
}
