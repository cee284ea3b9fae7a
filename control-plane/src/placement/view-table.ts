// The facts every plan reads from each NodeView, in columns indexed by node position. A plan
// over thousands of nodes otherwise follows pointers from every view into its power, network,
// cache and telemetry objects, scattered over the heap; a row is read again only when its view
// or one of the view's fields was replaced (their contents are snapshots, see types.ts).
import { LINK_TYPES } from '@edgeplane/api';
import { onBattery } from './battery.ts';
import type { NodeView } from './types.ts';

export interface ViewTable {
  /** The view each row was read from. */
  views: Array<NodeView | undefined>;
  /**
   * 1 where that view was frozen when read: its fields cannot have been replaced since, so the
   * row holds while the list has the same object at its position, and checking it reads no view.
   */
  frozen: Uint8Array;
  /**
   * Per row, REFS consecutive references: the name and the accelerator array the rows were laid
   * out for, then the objects the view held when read (see REF). Interleaved so that checking a
   * row of an unfrozen view reads one cache line of the table instead of one in each of eight
   * arrays.
   */
  refs: unknown[];
  /** ready | unschedulable << 1 | retainReplicas << 2 when read, compared in one read. */
  flags: Uint8Array;
  /** Counts the rows whose labels object was replaced: facts derived from labels keep the count they were read at. */
  labelsEpoch: number;
  /** The same for the measuredP99Ms maps. */
  measuredEpoch: number;
  ready: Uint8Array;
  unschedulable: Uint8Array;
  retainReplicas: Uint8Array;
  /** Battery level when the node runs on battery (see onBattery); NaN on mains, charging or unknown. */
  batteryPercent: Float64Array;
  /** Position of the link class in LINK_TYPES; -1 when the node reports no network. */
  link: Int8Array;
  /** Measured bandwidth, Mbit/s; NaN when unmeasured. */
  bwMbps: Float64Array;
  hasCached: Uint8Array;
  hasMeasured: Uint8Array;
  /** Busy fraction 0..1 per accelerator slot (FleetFacts.accBase), 0 when unreported. */
  util: Float64Array;
}

/** Offsets within a row of ViewTable.refs. */
const REF = { name: 0, accelerators: 1, power: 2, network: 3, cached: 4, measured: 5, utilization: 6, labels: 7 } as const;
const REFS = 8;

/** The view row i was read from. */
export function viewAt(t: ViewTable, i: number): NodeView {
  return t.views[i]!;
}

/** The labels object row i was read from. */
export function labelsAt(t: ViewTable, i: number): NodeView['labels'] {
  return t.refs[i * REFS + REF.labels] as NodeView['labels'];
}

/** The measured latencies row i was read from. */
export function measuredAt(t: ViewTable, i: number): NodeView['measuredP99Ms'] {
  return t.refs[i * REFS + REF.measured] as NodeView['measuredP99Ms'];
}

function flagsOf(view: NodeView): number {
  return (view.ready ? 1 : 0) | (view.unschedulable ? 2 : 0) | (view.retainReplicas ? 4 : 0);
}

const LINK_CODE = new Map<string, number>(LINK_TYPES.map((t, i) => [t, i]));

/** An unread table for nodes laid out with these names and accelerator arrays, `slots` accelerators in all. */
export function newViewTable(names: readonly string[], accelerators: ReadonlyArray<NodeView['accelerators']>, slots: number): ViewTable {
  const nodes = names.length;
  const refs = new Array<unknown>(nodes * REFS).fill(undefined);
  for (let i = 0; i < nodes; i++) {
    refs[i * REFS + REF.name] = names[i];
    refs[i * REFS + REF.accelerators] = accelerators[i];
  }
  return {
    views: new Array<NodeView | undefined>(nodes).fill(undefined),
    frozen: new Uint8Array(nodes),
    refs,
    flags: new Uint8Array(nodes),
    labelsEpoch: 0,
    measuredEpoch: 0,
    ready: new Uint8Array(nodes),
    unschedulable: new Uint8Array(nodes),
    retainReplicas: new Uint8Array(nodes),
    batteryPercent: new Float64Array(nodes),
    link: new Int8Array(nodes),
    bwMbps: new Float64Array(nodes),
    hasCached: new Uint8Array(nodes),
    hasMeasured: new Uint8Array(nodes),
    util: new Float64Array(slots),
  };
}

/** Reads row i from `view`; slots [slotStart, slotEnd) are the node's accelerators, `ids` their ids. */
function readView(t: ViewTable, i: number, view: NodeView, slotStart: number, slotEnd: number, ids: readonly string[]): void {
  const refs = t.refs;
  const at = i * REFS;
  t.views[i] = view;
  // Frozen stays frozen: the flag holds for as long as this object is the row's view. A plain
  // object only, whose fields are its own: nothing inherited can change under it.
  t.frozen[i] = Object.isFrozen(view) && Object.getPrototypeOf(view) === Object.prototype ? 1 : 0;
  refs[at + REF.power] = view.power;
  refs[at + REF.network] = view.network;
  refs[at + REF.cached] = view.cachedArtifacts;
  if (refs[at + REF.measured] !== view.measuredP99Ms) {
    refs[at + REF.measured] = view.measuredP99Ms;
    t.measuredEpoch++;
  }
  refs[at + REF.utilization] = view.utilization;
  if (refs[at + REF.labels] !== view.labels) {
    refs[at + REF.labels] = view.labels;
    t.labelsEpoch++;
  }
  t.flags[i] = flagsOf(view);
  t.ready[i] = view.ready ? 1 : 0;
  t.unschedulable[i] = view.unschedulable ? 1 : 0;
  t.retainReplicas[i] = view.retainReplicas ? 1 : 0;
  t.batteryPercent[i] = onBattery(view.power) ? view.power.batteryPercent : NaN;
  t.link[i] = view.network === undefined ? -1 : (LINK_CODE.get(view.network.type) ?? -1);
  t.bwMbps[i] = view.network?.bandwidthMbps ?? NaN;
  t.hasCached[i] = view.cachedArtifacts.size > 0 ? 1 : 0;
  t.hasMeasured[i] = view.measuredP99Ms.size > 0 ? 1 : 0;
  for (let slot = slotStart; slot < slotEnd; slot++) t.util[slot] = view.utilization.get(ids[slot]!) ?? 0;
}

/**
 * Reads row i again for every node whose view, or one of the view's fields, was replaced. False,
 * with the rows from the first such node on left unread, when a node no longer has the name or
 * accelerator array the rows were laid out for: the caller builds them anew.
 */
export function refreshRows(t: ViewTable, nodes: readonly NodeView[], accBase: Int32Array, ids: readonly string[]): boolean {
  const refs = t.refs;
  const flags = t.flags;
  const views = t.views;
  const frozen = t.frozen;
  for (let i = 0, at = 0; i < nodes.length; i++, at += REFS) {
    const view = nodes[i]!;
    // The same frozen object: nothing in it can have changed (its name and accelerators were
    // checked when the row was read). Two compact arrays, and no read of the view itself.
    if (views[i] === view && frozen[i] === 1) continue;
    if (refs[at + REF.name] !== view.name || refs[at + REF.accelerators] !== view.accelerators) return false;
    // The same object holding the same fields: the row still describes it.
    if (
      views[i] === view &&
      flags[i] === flagsOf(view) &&
      refs[at + REF.power] === view.power &&
      refs[at + REF.network] === view.network &&
      refs[at + REF.cached] === view.cachedArtifacts &&
      refs[at + REF.measured] === view.measuredP99Ms &&
      refs[at + REF.utilization] === view.utilization &&
      refs[at + REF.labels] === view.labels
    ) {
      continue;
    }
    readView(t, i, view, accBase[i]!, accBase[i + 1]!, ids);
  }
  return true;
}
