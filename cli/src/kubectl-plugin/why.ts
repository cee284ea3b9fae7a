// `why emd/NAME`: each replica's node and tier, and for every other node the reason the
// placement engine's own plugins give: the first filter that refuses it, or its score beside
// the nodes chosen. The plan is recomputed from what the API server holds (telemetry the
// control plane keeps in Redis only, such as measured latency per variant, is approximated
// by the nodes' reported workloads).
import { EdgeModelDeploymentSpec, type EdgeModelDeployment, type EdgeNode, type Precision } from '@edgeplane/api';
import { explainPlacement, type NodeView, type Placement, type PlanInput } from '@edgeplane/control-plane/placement';
import { PluginError } from './errors.ts';
import { ms, table } from './format.ts';

export interface WhyReplica {
  node: string;
  accelerator: string;
  variant: string;
  precision: string;
  profile: string;
  phase: string;
  /** Why this tier: the planner's sentence, else the status reason. */
  why: string;
}

export interface WhyNode {
  node: string;
  verdict: 'Filtered' | 'ScoredLower' | 'WouldPlace' | 'NoTier';
  plugin?: string;
  reason: string;
  score?: number;
}

export interface WhyReport {
  deployment: string;
  replicas: { desired: number; placed: number; ready: number; unplaced: number };
  objective: string;
  replicasOn: WhyReplica[];
  otherNodes: WhyNode[];
  /** kube-scheduler's one-line summary when replicas are unplaced. */
  message?: string;
}

function nodeView(n: EdgeNode, key: string, spec: EdgeModelDeploymentSpec): NodeView {
  const s = n.status;
  const conditions = s?.conditions ?? [];
  const shaOf = new Map(spec.model.variants.map((v) => [v.name, v.sha256]));
  const measured = new Map<string, number>();
  for (const w of s?.workloads ?? []) {
    const sha = shaOf.get(w.variant);
    if (w.deployment === key && sha !== undefined && w.p99Ms !== undefined) measured.set(`${sha}@${w.accelerator}`, w.p99Ms);
  }
  return {
    name: n.metadata.name ?? '',
    labels: n.metadata.labels ?? {},
    unschedulable: n.spec?.unschedulable ?? false,
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True') && !conditions.some((c) => c.type === 'Reachable' && c.status === 'False'),
    accelerators: s?.accelerators ?? [],
    power: s?.power,
    network: s?.network,
    cachedArtifacts: new Set(s?.cachedArtifacts ?? []),
    measuredP99Ms: measured,
    utilization: new Map((s?.utilization ?? []).map((u) => [u.id, u.utilization])),
  };
}

/** The planner's input for one deployment, from the objects the API server holds. */
export function planInputFrom(target: EdgeModelDeployment, nodes: readonly EdgeNode[], all: readonly EdgeModelDeployment[], nowMs: number): PlanInput {
  const key = `${target.metadata.namespace}/${target.metadata.name}`;
  const parsed = EdgeModelDeploymentSpec.safeParse(target.spec);
  if (!parsed.success) throw new PluginError('BAD_ARGUMENT', `${key}: spec does not parse: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  const spec = parsed.data;
  const current: Placement[] = (target.status?.placements ?? []).map((p) => ({
    deployment: key,
    node: p.node,
    accelerator: p.accelerator,
    variant: p.variant,
    precision: p.precision,
    profile: p.profile,
    // The cap at placement time is not in status; fp32 means none, so no hysteresis is held.
    cap: 'fp32' as Precision,
    predictedP99Ms: p.p99LatencyMs ?? 0,
    tierReason: p.message ?? p.reason ?? '',
  }));
  const committedMiB = new Map<string, number>();
  const otherWorkloads = new Map<string, number>();
  for (const d of all) {
    if (`${d.metadata.namespace}/${d.metadata.name}` === key) continue;
    const memory = new Map(d.spec.model.variants.map((v) => [v.name, v.memoryMiB]));
    const seen = new Set<string>();
    for (const p of d.status?.placements ?? []) {
      const slot = `${p.node}/${p.accelerator}`;
      committedMiB.set(slot, (committedMiB.get(slot) ?? 0) + (memory.get(p.variant) ?? 0));
      if (!seen.has(p.node)) otherWorkloads.set(p.node, (otherWorkloads.get(p.node) ?? 0) + 1);
      seen.add(p.node);
    }
  }
  const excluded = new Map<string, Set<string>>();
  for (const f of target.status?.failures ?? []) {
    if (Date.parse(f.retryAfter) > nowMs) excluded.set(f.node, new Set([...(excluded.get(f.node) ?? []), f.variant]));
  }
  return {
    key,
    spec,
    nodes: nodes.map((n) => nodeView(n, key, spec)),
    current,
    committedMiB,
    otherWorkloads,
    excludedVariants: excluded,
    nowMs,
  };
}

export function why(target: EdgeModelDeployment, nodes: readonly EdgeNode[], all: readonly EdgeModelDeployment[], nowMs = Date.now()): WhyReport {
  const input = planInputFrom(target, nodes, all, nowMs);
  const { result, nodes: verdicts } = explainPlacement(input);
  const byNode = new Map(verdicts.map((v) => [v.node, v]));
  const status = target.status;
  const placements = status?.placements ?? [];
  const holding = new Set(placements.map((p) => p.node));
  const replicasOn: WhyReplica[] = placements.map((p) => {
    const planned = byNode.get(p.node)?.placed.find((x) => x.variant === p.variant && x.accelerator === p.accelerator);
    const filtered = byNode.get(p.node)?.filtered;
    const why = filtered ? `now refused: ${filtered.reason} (${filtered.plugin}); the next reconcile moves it` : (planned?.tierReason || p.message || p.reason || '');
    return { node: p.node, accelerator: p.accelerator, variant: p.variant, precision: p.precision, profile: p.profile, phase: p.phase, why };
  });
  // The bar a node had to clear: the lowest score among the nodes that hold a replica.
  const chosenScores = verdicts.filter((v) => holding.has(v.node) && v.score !== undefined).map((v) => v.score!.total);
  const bar = chosenScores.length > 0 ? Math.min(...chosenScores) : undefined;
  const otherNodes: WhyNode[] = verdicts
    .filter((v) => !holding.has(v.node))
    .map((v): WhyNode => {
      if (v.filtered) return { node: v.node, verdict: 'Filtered', plugin: v.filtered.plugin, reason: v.filtered.reason };
      if (!v.score) return { node: v.node, verdict: 'NoTier', reason: 'no accelerator and variant fit' };
      const parts = v.score.plugins.filter((p) => p.weight > 0).map((p) => `${p.plugin} ${p.score.toFixed(0)}`).join(', ');
      const total = Number(v.score.total.toFixed(1));
      if (v.placed.length > 0) return { node: v.node, verdict: 'WouldPlace', reason: `score ${total} (${parts}): the next reconcile places a replica here`, score: total };
      const shown = Number(bar?.toFixed(1));
      const vs =
        bar === undefined
          ? ''
          : Math.abs(v.score.total - bar) < 0.05
            ? ` = ${shown}, the lowest of the chosen nodes; a tie goes to the lower node name`
            : v.score.total < bar
              ? ` < ${shown}, the lowest of the chosen nodes`
              : ` > ${shown}, but a placed replica moves only when another node beats it by the keep threshold`;
      return { node: v.node, verdict: 'ScoredLower', reason: `score ${total}${vs} (${parts}; ${v.score.variant} on ${v.score.accelerator})`, score: total };
    })
    .sort((a, b) => (a.verdict === b.verdict ? (b.score ?? 0) - (a.score ?? 0) || (a.node < b.node ? -1 : 1) : a.verdict < b.verdict ? -1 : 1));
  return {
    deployment: input.key,
    replicas: {
      desired: input.spec.replicas,
      placed: placements.length,
      ready: status?.readyReplicas ?? placements.filter((p) => p.phase === 'Ready').length,
      unplaced: status?.unplacedReplicas ?? Math.max(0, input.spec.replicas - placements.length),
    },
    objective: input.spec.tiering.objective,
    replicasOn,
    otherNodes,
    ...(result.message !== undefined ? { message: result.message } : {}),
  };
}

export function whyText(r: WhyReport, sloMs: number): string {
  const out: string[] = [];
  out.push(
    `EdgeModelDeployment ${r.deployment}: ${r.replicas.placed}/${r.replicas.desired} replicas placed, ${r.replicas.ready} Ready, ${r.replicas.unplaced} unplaced; objective ${r.objective}, SLO p99 ${ms(sloMs)}`,
  );
  out.push('', 'Replicas:');
  out.push(r.replicasOn.length === 0 ? '  <none>' : indent(table(['Node', 'Accelerator', 'Variant', 'Precision', 'Profile', 'Phase', 'Why'], r.replicasOn.map((p) => [p.node, p.accelerator, p.variant, p.precision, p.profile, p.phase, p.why]))));
  out.push('', 'Other nodes:');
  out.push(
    r.otherNodes.length === 0
      ? '  <none>'
      : indent(table(['Node', 'Verdict', 'Plugin', 'Reason'], r.otherNodes.map((n) => [n.node, n.verdict, n.plugin ?? (n.verdict === 'Filtered' ? undefined : 'Score'), n.reason]))),
  );
  if (r.message) out.push('', r.message);
  return `${out.join('\n')}\n`;
}

function indent(text: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
