// Per-plan facts derived once from the input: options, the variants each cap allows, and a
// NodeInfo per node with its battery cap and topology domain.
import { LINK_TYPES, PRECISIONS } from '@edgeplane/api';
import type { ModelVariant, Objective, Precision } from '@edgeplane/api';
import { allowedUnder, batteryCap, precisionRank } from './battery.ts';
import { PlacementErrorCode, PlacementInputError } from './errors.ts';
import { buildPairs } from './candidates.ts';
import { localScore, staticPairFilters } from './choose.ts';
import { nodeLevelFilters, nodeReady, passesAll } from './filters.ts';
import type { NodeInfo, PairClass, PlanContext, VariantTable, Weights } from './framework.ts';
import { fleetFacts, refreshFleetRows, selectorMatches, topologyDomains } from './memo.ts';
import type { FleetFacts } from './memo.ts';
import { nodeScorePlugins, WEIGHTS } from './score.ts';
import { fullNodes } from './workload-cap.ts';
import { viewAt } from './view-table.ts';
import { defaultPlacementOptions } from './types.ts';
import type { Placement, PlacementOptions, PlanInput } from './types.ts';

const NO_WORKLOADS: ReadonlyMap<string, number> = new Map();

export function resolveOptions(partial: Partial<PlacementOptions> | undefined): PlacementOptions {
  const options = { ...defaultPlacementOptions, ...partial };
  const bad = (field: string, rule: string) =>
    new PlacementInputError(PlacementErrorCode.InvalidOptions, `placement option ${field} ${rule}`);
  if (!(options.efficiency > 0 && options.efficiency <= 1)) throw bad('efficiency', `must be in (0, 1], got ${options.efficiency}`);
  if (!(options.fetchDeadlineSec >= 0)) throw bad('fetchDeadlineSec', `must be >= 0 seconds, got ${options.fetchDeadlineSec}`);
  if (!(options.keepThreshold >= 0 && options.keepThreshold <= 100)) {
    throw bad('keepThreshold', `must be in [0, 100], got ${options.keepThreshold}`);
  }
  return options;
}

function variantTable(variants: ModelVariant[]): VariantTable {
  // Plain loops: TypedArray.from with a mapping function goes through the iterator protocol,
  // and every plan builds three of these tables.
  const n = variants.length;
  const table: VariantTable = {
    variants,
    rank: new Int8Array(n),
    sizeBits: new Float64Array(n),
    memoryMiB: new Float64Array(n),
    accuracy: new Float64Array(n),
    gflops: new Float64Array(n),
    lite: new Uint8Array(n),
  };
  for (let v = 0; v < n; v++) {
    const variant = variants[v]!;
    table.rank[v] = precisionRank(variant.precision);
    table.sizeBits[v] = variant.sizeBytes * 8;
    table.memoryMiB[v] = variant.memoryMiB;
    table.accuracy[v] = variant.accuracy;
    table.gflops[v] = variant.gflops;
    table.lite[v] = variant.profile === 'lite' ? 1 : 0;
  }
  return table;
}

/**
 * A deployment's variants under each battery cap, limited to minAccuracy, with the pair classes
 * ranked from them (per node list and pricing, see pairClassesFor). Kept per variants list: a
 * reconcile pass plans the same spec again and again, and building the tables and ranking the
 * classes' pairs is then done once.
 */
interface EligibleVariants {
  /** The list's elements and the minAccuracy the tables were built from: they hold while both are the same. */
  variants: readonly ModelVariant[];
  minAccuracy: number;
  tables: readonly [VariantTable, VariantTable, VariantTable];
  /** Forcing lite needs a lite variant that is accurate enough; without one the rule cannot apply. */
  hasLite: boolean;
}

const eligibleByList = new WeakMap<readonly ModelVariant[], EligibleVariants>();

function sameElements<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

function eligibleVariants(variants: readonly ModelVariant[], minAccuracy: number): EligibleVariants {
  const known = eligibleByList.get(variants);
  if (known !== undefined && known.minAccuracy === minAccuracy && sameElements(known.variants, variants)) return known;
  const accurate = variants.filter((v) => v.accuracy >= minAccuracy);
  const under = (cap: Precision): VariantTable => variantTable(accurate.filter((v) => allowedUnder(v.precision, cap)));
  const made: EligibleVariants = {
    variants: variants.slice(),
    minAccuracy,
    tables: [under(PRECISIONS[0]), under(PRECISIONS[1]), under(PRECISIONS[2])],
    hasLite: accurate.some((v) => v.profile === 'lite'),
  };
  eligibleByList.set(variants, made);
  return made;
}

/**
 * The pair classes of plans over this node list with these variant tables, kept while the rest of
 * what ranks a class's pairs is the same: the efficiency that prices them, the SLO that judges
 * them and the objective that orders them (the classes' keys hold the rest: hardware signature,
 * cap, link class, link and fetch verdicts).
 */
function pairClassesFor(fleet: FleetFacts, eligible: EligibleVariants, efficiency: number, sloMs: number, objective: Objective): Map<number, PairClass> {
  const known = fleet.pairClasses.get(eligible);
  if (known !== undefined && known.efficiency === efficiency && known.sloMs === sloMs && known.objective === objective) return known.classes;
  const classes = new Map<number, PairClass>();
  fleet.pairClasses.set(eligible, { efficiency, sloMs, objective, classes });
  return classes;
}

/** The weight of each node score plugin, in nodeScorePlugins order. */
function pluginWeights(weights: Weights): Float64Array {
  const out = new Float64Array(nodeScorePlugins.length);
  for (let k = 0; k < nodeScorePlugins.length; k++) out[k] = nodeScorePlugins[k]!.weight(weights);
  return out;
}

/** The cap each node had when this deployment was last placed there; the strictest wins. */
function previousCaps(input: PlanInput): Map<string, Precision> {
  const caps = new Map<string, Precision>();
  for (const p of input.current) {
    if (p.deployment !== input.key) continue;
    const prev = caps.get(p.node);
    if (prev === undefined || precisionRank(p.cap) > precisionRank(prev)) caps.set(p.node, p.cap);
  }
  return caps;
}

/** Current placements that changed variant less than upgradeHoldMs ago, by node. */
function heldPlacements(input: PlanInput, holdMs: number): Map<string, Placement> {
  const held = new Map<string, Placement>();
  if (input.nowMs === undefined || holdMs <= 0) return held;
  for (const p of input.current) {
    if (p.deployment === input.key && p.sinceMs !== undefined && input.nowMs - p.sinceMs < holdMs) held.set(p.node, p);
  }
  return held;
}

/** The static pair filters' verdict on a node, judged once per pair class. */
function passesStaticPairFilters(ctx: PlanContext, node: NodeInfo): boolean {
  const c = node.pairClass;
  if (c === null) return passesAll(staticPairFilters, ctx, node);
  if (c.staticOk === -1) c.staticOk = passesAll(staticPairFilters, ctx, node) ? 1 : 0;
  return c.staticOk === 1;
}

/** A map keyed by node name re-keyed by node position; undefined when empty or absent. */
function byPosition<T>(byNodeName: ReadonlyMap<string, T> | undefined, positions: ReadonlyMap<string, number>): Map<number, T> | undefined {
  if (byNodeName === undefined || byNodeName.size === 0) return undefined;
  const out = new Map<number, T>();
  for (const [name, value] of byNodeName) {
    const i = positions.get(name);
    if (i !== undefined) out.set(i, value);
  }
  return out;
}

const Admission = { Admitted: 0, Retained: 1, Refused: 2 } as const;
type Admission = (typeof Admission)[keyof typeof Admission];

/**
 * Admitted when every node-level filter passes; Retained when only NodeReady fails and the node
 * keeps its replicas (its pairs are still needed to check them); else Refused.
 */
function admitAlone(ctx: PlanContext, node: NodeInfo): Admission {
  let admission: Admission = Admission.Admitted;
  for (const plugin of nodeLevelFilters) {
    if (plugin.passes(ctx, node)) continue;
    if (plugin === nodeReady && ctx.fleet.table.retainReplicas[node.index] === 1) admission = Admission.Retained;
    else return Admission.Refused;
  }
  return admission;
}

/**
 * Fills node i's row past its view: the node-level filters' verdict, battery cap, link class,
 * cache, backoff and hold, then its pairs, counts and tier (the first scan sets them all), the
 * static verdict and the score the chooser starts from. Runs once per node per plan, when the
 * plan was prepared (eagerly) or when the row is first needed (see preparePlan).
 */
export function evaluateRow(ctx: PlanContext, i: number): void {
  ctx.evaluated[i] = 1;
  ctx.evaluatedRows[ctx.evaluatedCount++] = i;
  const info = ctx.nodes[i]!;
  const table = ctx.fleet.table;
  const view = viewAt(table, i);
  info.view = view;
  info.count = 0;
  info.built = false;
  info.tierAcc = -1;
  const rows = ctx.rows;
  // A node a node-level filter refuses is judged by that filter alone (its reason comes first
  // in runFilters), so the rest of its row is never read.
  const admission = admitAlone(ctx, info);
  info.admitted = admission === Admission.Admitted;
  if (admission === Admission.Refused) return;
  info.domain = rows.domains !== undefined ? rows.domains[i]! : i;
  const percent = table.batteryPercent[i]!;
  // capFor, from the columns: no cap unless on battery.
  info.cap = Number.isNaN(percent) ? 'fp32' : batteryCap(percent, ctx.spec.tiering.battery, rows.prevCapAt?.get(i));
  info.capRank = precisionRank(info.cap);
  const link = table.link[i]!;
  info.liteLink = ctx.hasLite && link >= 0 && rows.liteCodes[link] === 1;
  info.cached = table.hasCached[i] === 1 ? view.cachedArtifacts : undefined;
  const excluded = rows.excludedAt?.get(i);
  info.excluded = excluded !== undefined && excluded.size > 0 ? excluded : undefined;
  // Held only while the node's cap and link class are what they were: the hold damps noise
  // in measurements, not a battery that recovered or a node back on Wi-Fi.
  const hold = rows.heldAt?.get(i);
  const sameClass = hold !== undefined && hold.cap === info.cap && (hold.profile !== 'lite' || info.liteLink);
  info.holdVariant = sameClass ? hold.variant : '';
  info.holdAcc = sameClass ? hold.accelerator : '';
  buildPairs(ctx, info);
  if (info.admitted && passesStaticPairFilters(ctx, info)) {
    ctx.staticOk[i] = 1;
    ctx.localScore[i] = localScore(ctx, info);
  }
}

/** Evaluates node i's row unless the plan already did. */
export function ensureRow(ctx: PlanContext, i: number): void {
  if (ctx.evaluated[i] === 0) evaluateRow(ctx, i);
}

/**
 * The plan's context and node table. `pairClasses: false` scans every node's pairs one by one,
 * as the reference planner does, so comparing the planners also checks the pair classes.
 * `lazy`: each row is read from its view now and evaluated (evaluateRow) only when first needed;
 * otherwise every row is evaluated here.
 */
export function preparePlan(input: PlanInput, pairClasses = true, lazy = false, rebuild = false): PlanContext {
  const options = resolveOptions(input.options);
  const spec = input.spec;
  const minAccuracy = spec.slo.minAccuracy;
  const variants = eligibleVariants(spec.model.variants, minAccuracy);
  const eligible = variants.tables;
  const liteOn = spec.tiering.network.liteOn;
  const hasLite = variants.hasLite;
  const prevCaps = previousCaps(input);
  const held = heldPlacements(input, options.upgradeHoldMs);
  const spreadBy = spec.placement.spreadBy;
  // Also refuses duplicate names before anything is placed.
  const fleet = fleetFacts(input.nodes, rebuild);
  // A node renamed or given new accelerators: the facts of the whole list are built again.
  if (!refreshFleetRows(fleet, input.nodes)) return preparePlan(input, pairClasses, lazy, true);
  const domains = spreadBy !== undefined ? topologyDomains(fleet, input.nodes, spreadBy) : undefined;
  // Plans run one at a time and no result refers to a NodeInfo, so the node list's facts own
  // one per node and each plan resets them: no garbage per node per plan.
  const nodes = fleet.infos;
  const buffers = fleet.buffers;
  buffers.staticOk.fill(0);
  buffers.dirty.fill(0);
  buffers.usedMiB.fill(0);
  buffers.committedLoaded.fill(0);
  buffers.evaluated.fill(0);
  const liteCodes = new Uint8Array(LINK_TYPES.length);
  for (const type of liteOn) liteCodes[LINK_TYPES.indexOf(type)] = 1;
  const ctx: PlanContext = {
    key: input.key,
    spec,
    options,
    objective: spec.tiering.objective,
    sloMs: spec.slo.latencyMs,
    minAccuracy,
    maxPerNode: spec.placement.maxPerNode,
    liteOn,
    hasLite,
    weights: WEIGHTS[spec.tiering.objective],
    eligible,
    committedMiB: input.committedMiB,
    otherWorkloads: input.otherWorkloads ?? NO_WORKLOADS,
    workloadFull: input.otherWorkloads !== undefined ? fullNodes(input.otherWorkloads, fleet.byName, nodes.length) : undefined,
    nodes,
    domainCount: buffers.domainCount.subarray(0, domains !== undefined ? domains.count : nodes.length).fill(0),
    domainOf: domains !== undefined ? domains.ids : fleet.positions,
    staticOk: buffers.staticOk,
    localScore: buffers.localScore,
    dirty: buffers.dirty,
    fleet,
    scratch: { acc: -1, accId: '', variant: spec.model.variants[0]!, p99Ms: 0, measured: false, meetsSlo: false, joules: 0 },
    usedMiB: buffers.usedMiB,
    committedLoaded: buffers.committedLoaded,
    tierP99Ms: buffers.tierP99Ms,
    tierJoules: buffers.tierJoules,
    pairClasses: pairClasses ? pairClassesFor(fleet, variants, options.efficiency, spec.slo.latencyMs, spec.tiering.objective) : undefined,
    nodeWeights: pluginWeights(WEIGHTS[spec.tiering.objective]),
    evaluated: buffers.evaluated,
    evaluatedRows: buffers.evaluatedRows,
    evaluatedCount: 0,
    selectorMatch: spec.placement.selector !== undefined ? selectorMatches(fleet, spec.placement.selector) : undefined,
    rows: {
      domains: domains?.ids,
      // Name-keyed inputs by node position: they hold a few nodes, and evaluating a row then
      // never reads a node's name.
      prevCapAt: byPosition(prevCaps, fleet.byName),
      heldAt: byPosition(held, fleet.byName),
      excludedAt: byPosition(input.excludedVariants, fleet.byName),
      liteCodes,
    },
  };
  if (!lazy) for (let i = 0; i < nodes.length; i++) evaluateRow(ctx, i);
  return ctx;
}
