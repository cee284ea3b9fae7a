// Facts about input objects that do not depend on the deployment, remembered per object so a
// reconcile pass planning many deployments over one node list computes them once. Keyed by
// object identity in WeakMaps: nothing outlives its input, and the planner stays pure as long
// as inputs are replaced rather than changed in place (see NodeView).
import { PRECISIONS } from '@edgeplane/api';
import type { Accelerator, LabelSelector } from '@edgeplane/api';
import { matchesSelector } from './labels.ts';
import { PlacementErrorCode, PlacementInputError } from './errors.ts';
import { topsAt, wattsOf } from './predict.ts';
import type { SignatureBounds } from './bound.ts';
import type { NodeInfo, PairClass } from './framework.ts';
import { labelsAt, measuredAt, newViewTable, refreshRows } from './view-table.ts';
import type { ViewTable } from './view-table.ts';
import type { NodeView } from './types.ts';

/** See FleetFacts.buffers; preparePlan clears what it uses. */
export interface PlanBuffers {
  staticOk: Uint8Array;
  localScore: Float64Array;
  dirty: Uint8Array;
  /** Room for one count per node: there are never more topology domains than nodes. */
  domainCount: Int32Array;
  usedMiB: Float64Array;
  committedLoaded: Uint8Array;
  /** The heap chooser's current local scores. */
  heapScore: Float64Array;
  tierP99Ms: Float64Array;
  tierJoules: Float64Array;
  /** 1 once the node's row was evaluated by this plan (see evaluateRow in prepare.ts). */
  evaluated: Uint8Array;
  /** The rows evaluated by this plan, in order (see PlanContext.evaluatedRows). */
  evaluatedRows: Int32Array;
  /** See bound.ts. */
  signatureBounds: SignatureBounds;
  /** Each node's bound (see nodeBounds in bound.ts). */
  bound: Float64Array;
  /** 1 for each node with a measured latency of one of the plan's variants (see bound.ts). */
  measuresPlan: Uint8Array;
  /** The heap chooser's reserve: nodes outside the heaps, and a sample of bounds. */
  inReserve: Int32Array;
  sample: Float64Array;
}

/** Accelerator facts of a whole node list in flat arrays; node i owns [accBase[i], accBase[i+1]). */
export interface FleetFacts {
  names: readonly string[];
  accelerators: ReadonlyArray<readonly Accelerator[]>;
  accBase: Int32Array;
  ids: readonly string[];
  /** `${node}/${acceleratorId}`: the keys of PlanInput.committedMiB. */
  committedKeys: readonly string[];
  memoryMiB: Float64Array;
  /** TOPS by accelerator slot and precision rank at `slot * 3 + rank`; 0 where unsupported. */
  tops: Float64Array;
  /** Draw under load, watts. */
  watts: Float64Array;
  /** What plans read from each view, in columns (see view-table.ts). */
  table: ViewTable;
  /**
   * Hardware signature of each node: nodes with equal TOPS and draw on every accelerator, in
   * order, share one (memory aside), so a plan can rank their pairs once (see pair-classes.ts).
   */
  signature: Int32Array;
  /** Nodes per signature. */
  signatureCount: Int32Array;
  /** The first node of each signature: its accelerators stand for every member's. */
  signatureFirst: Int32Array;
  /** Where each signature's accelerators start in per-signature accelerator arrays. */
  signatureSlotBase: Int32Array;
  /** Topology domains by spreadBy label key (see topologyDomains). */
  domains: Map<string, TopologyDomains>;
  /** Positions of the nodes with a measured latency of each variant digest (see measuredNodes). */
  measured: { epoch: number; byDigest: Map<string, number[]> } | undefined;
  /** Which nodes each label selector matches (see selectorMatches). */
  selectors: WeakMap<LabelSelector, { epoch: number; match: Uint8Array }>;
  /** Position of each node by name. */
  byName: Map<string, number>;
  /** 0..n-1: the domains when each node is its own. */
  positions: Int32Array;
  /** NodeInfo.rank of each node as a column. */
  rank: Int32Array;
  /** Per-plan arrays, reused by each plan over this node list (plans run one at a time). */
  buffers: PlanBuffers;
  /** One NodeInfo per node, reset by each plan (see preparePlan). */
  infos: NodeInfo[];
  /**
   * Pair classes by the variant tables they were ranked from (keyed by an object preparePlan
   * keeps per variants list), with the pricing they were ranked under: signatures are this list's.
   */
  pairClasses: WeakMap<object, { efficiency: number; sloMs: number; objective: string; classes: Map<number, PairClass> }>;
}

function buildFleetFacts(nodes: readonly NodeView[]): FleetFacts {
  const accBase = new Int32Array(nodes.length + 1);
  for (let i = 0; i < nodes.length; i++) accBase[i + 1] = accBase[i]! + nodes[i]!.accelerators.length;
  const total = accBase[nodes.length]!;
  const ids: string[] = [];
  const committedKeys: string[] = [];
  const memoryMiB = new Float64Array(total);
  const tops = new Float64Array(total * 3);
  const watts = new Float64Array(total);
  const byName = new Map<string, number>();
  nodes.forEach((view, i) => {
    if (byName.has(view.name)) throw new PlacementInputError(PlacementErrorCode.DuplicateNode, `node ${view.name} appears twice in the plan input`);
    byName.set(view.name, i);
    view.accelerators.forEach((acc, a) => {
      const slot = accBase[i]! + a;
      ids.push(acc.id);
      committedKeys.push(`${view.name}/${acc.id}`);
      memoryMiB[slot] = acc.memoryMiB;
      watts[slot] = wattsOf(acc);
      PRECISIONS.forEach((p, rank) => (tops[slot * 3 + rank] = topsAt(acc, p)));
    });
  });
  // Names are unique (checked above), so their order is a total order: rank it once.
  const byOrder = nodes.map((_, i) => i).sort((a, b) => (nodes[a]!.name < nodes[b]!.name ? -1 : 1));
  const rank = new Int32Array(nodes.length);
  byOrder.forEach((i, r) => (rank[i] = r));
  const infos = nodes.map(
    (view, i): NodeInfo => ({
      index: i,
      rank: rank[i]!,
      view,
      domain: i,
      cap: 'fp32',
      capRank: 0,
      cached: undefined,
      liteLink: false,
      admitted: false,
      built: false,
      supportedPairs: 0,
      linkPairs: 0,
      fetchablePairs: 0,
      excluded: undefined,
      retryablePairs: 0,
      pairClass: null,
      accBase: accBase[i]!,
      count: 0,
      tierAcc: -1,
      tierVariant: -1,
      tierMeasured: false,
      tierMeetsSlo: false,
      holdVariant: '',
      holdAcc: '',
    }),
  );
  const signatureIds = new Map<string, number>();
  const signature = new Int32Array(nodes.length);
  const counts: number[] = [];
  const firsts: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    let key = '';
    for (let slot = accBase[i]!; slot < accBase[i + 1]!; slot++) key += `${tops[slot * 3]},${tops[slot * 3 + 1]},${tops[slot * 3 + 2]},${watts[slot]};`;
    let id = signatureIds.get(key);
    if (id === undefined) {
      signatureIds.set(key, (id = signatureIds.size));
      firsts.push(i);
    }
    signature[i] = id;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  const signatureSlotBase = new Int32Array(firsts.length + 1);
  firsts.forEach((first, s) => (signatureSlotBase[s + 1] = signatureSlotBase[s]! + accBase[first + 1]! - accBase[first]!));
  const signatureSlots = signatureSlotBase[firsts.length]!;
  const names = nodes.map((n) => n.name);
  const accelerators = nodes.map((n) => n.accelerators);
  const facts: FleetFacts = {
    names,
    accelerators,
    accBase,
    ids,
    committedKeys,
    memoryMiB,
    tops,
    watts,
    table: newViewTable(names, accelerators, total),
    signature,
    signatureCount: Int32Array.from(counts),
    signatureFirst: Int32Array.from(firsts),
    signatureSlotBase,
    domains: new Map(),
    selectors: new WeakMap(),
    measured: undefined,
    byName,
    positions: Int32Array.from(nodes, (_, i) => i),
    rank,
    buffers: {
      staticOk: new Uint8Array(nodes.length),
      localScore: new Float64Array(nodes.length),
      dirty: new Uint8Array(nodes.length),
      domainCount: new Int32Array(nodes.length),
      usedMiB: new Float64Array(total),
      committedLoaded: new Uint8Array(total),
      heapScore: new Float64Array(nodes.length),
      tierP99Ms: new Float64Array(nodes.length),
      tierJoules: new Float64Array(nodes.length),
      evaluated: new Uint8Array(nodes.length),
      evaluatedRows: new Int32Array(nodes.length),
      bound: new Float64Array(nodes.length),
      measuresPlan: new Uint8Array(nodes.length),
      inReserve: new Int32Array(nodes.length),
      // Bounds sampled to choose the reserve threshold.
      sample: new Float64Array(256),
      signatureBounds: {
        predicted: [new Float64Array(signatureSlots), new Float64Array(signatureSlots), new Float64Array(signatureSlots)],
        measured: [new Float64Array(signatureSlots), new Float64Array(signatureSlots), new Float64Array(signatureSlots)],
      },
    },
    infos,
    pairClasses: new WeakMap(),
  };
  return facts;
}

/** Each node's topology domain under one spreadBy key, numbered from 0. */
export interface TopologyDomains {
  /** ViewTable.labelsEpoch when the domains were read: a replaced labels object changes it. */
  epoch: number;
  ids: Int32Array;
  count: number;
}

function buildDomains(nodes: readonly NodeView[], spreadBy: string, epoch: number): TopologyDomains {
  const byValue = new Map<string, number>();
  const ids = new Int32Array(nodes.length);
  nodes.forEach((view, i) => {
    // Nodes without the label share one domain, keyed by a value no label can take.
    const value = Object.hasOwn(view.labels, spreadBy) ? view.labels[spreadBy]! : '\u0000';
    let id = byValue.get(value);
    if (id === undefined) byValue.set(value, (id = byValue.size));
    ids[i] = id;
  });
  return { epoch, ids, count: byValue.size };
}

/**
 * Topology domains of the node list under `spreadBy`, remembered until a node's labels are
 * replaced; read after refreshFleetRows.
 */
export function topologyDomains(facts: FleetFacts, nodes: readonly NodeView[], spreadBy: string): TopologyDomains {
  const epoch = facts.table.labelsEpoch;
  let domains = facts.domains.get(spreadBy);
  if (domains === undefined || domains.epoch !== epoch) {
    domains = buildDomains(nodes, spreadBy, epoch);
    facts.domains.set(spreadBy, domains);
  }
  return domains;
}

/**
 * 1 for each node whose labels `selector` matches, remembered per selector object until a node's
 * labels are replaced; read after refreshFleetRows.
 */
export function selectorMatches(facts: FleetFacts, selector: LabelSelector): Uint8Array {
  const table = facts.table;
  let known = facts.selectors.get(selector);
  if (known === undefined || known.epoch !== table.labelsEpoch) {
    const match = new Uint8Array(facts.names.length);
    for (let i = 0; i < match.length; i++) match[i] = matchesSelector(selector, labelsAt(table, i)) ? 1 : 0;
    known = { epoch: table.labelsEpoch, match };
    facts.selectors.set(selector, known);
  }
  return known.match;
}

/**
 * Positions of the nodes that report a measured latency of each variant digest, remembered until
 * a node's measurements are replaced; read after refreshFleetRows.
 */
export function measuredNodes(facts: FleetFacts): Map<string, number[]> {
  const table = facts.table;
  if (facts.measured === undefined || facts.measured.epoch !== table.measuredEpoch) {
    const byDigest = new Map<string, number[]>();
    for (let i = 0; i < facts.names.length; i++) {
      if (table.hasMeasured[i] === 0) continue;
      for (const digest of measuredByDigest(measuredAt(table, i)).keys()) {
        let list = byDigest.get(digest);
        if (list === undefined) byDigest.set(digest, (list = []));
        list.push(i);
      }
    }
    facts.measured = { epoch: table.measuredEpoch, byDigest };
  }
  return facts.measured.byDigest;
}

const fleetCache = new WeakMap<readonly NodeView[], FleetFacts>();

/**
 * Reads the row of every node whose view was replaced (see refreshRows in view-table.ts); false
 * when a node was renamed or given new accelerators, and the facts must be built anew.
 */
export function refreshFleetRows(facts: FleetFacts, nodes: readonly NodeView[]): boolean {
  return refreshRows(facts.table, nodes, facts.accBase, facts.ids);
}

/**
 * Facts for the node list as last built, built anew when `rebuild` or the list's length changed.
 * The caller checks each node with refreshFleetRows as it reads the rows (one visit to each view
 * per plan) and asks again with `rebuild` when one changed. Throws PlacementInputError when two
 * nodes share a name.
 */
export function fleetFacts(nodes: readonly NodeView[], rebuild = false): FleetFacts {
  let facts = fleetCache.get(nodes);
  if (rebuild || facts === undefined || facts.names.length !== nodes.length) {
    facts = buildFleetFacts(nodes);
    fleetCache.set(nodes, facts);
  }
  return facts;
}

const measuredCache = new WeakMap<ReadonlyMap<string, number>, Map<string, Map<string, number>>>();

/**
 * Measured p99 by variant digest, then accelerator id, from NodeView.measuredP99Ms
 * (`${sha256}@${acceleratorId}`), so lookups need no key built per pair.
 */
export function measuredByDigest(measured: ReadonlyMap<string, number>): Map<string, Map<string, number>> {
  let index = measuredCache.get(measured);
  if (index === undefined) {
    index = new Map();
    for (const [key, ms] of measured) {
      const at = key.lastIndexOf('@');
      if (at < 0) continue;
      const digest = key.slice(0, at);
      let byAcc = index.get(digest);
      if (byAcc === undefined) index.set(digest, (byAcc = new Map()));
      byAcc.set(key.slice(at + 1), ms);
    }
    measuredCache.set(measured, index);
  }
  return index;
}
