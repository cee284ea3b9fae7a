// The facts every plan reads from each NodeView, in columns indexed by node position. A plan
// over thousands of nodes otherwise follows pointers from every view into its power, network,
// cache and telemetry objects, scattered over the heap; a row is read again only when its view
// or one of the view's fields was replaced (their contents are snapshots, see types.ts).
import { LINK_TYPES } from '@edgeplane/api';
import { onBattery } from './battery.ts';
import type { NodeView } from './types.ts';

export interface ViewTable {
  /** The view each row was read from, and the objects it held then. */
  views: Array<NodeView | undefined>;
  power: Array<NodeView['power']>;
  network: Array<NodeView['network']>;
  cachedArtifacts: Array<NodeView['cachedArtifacts'] | undefined>;
  measuredP99Ms: Array<NodeView['measuredP99Ms'] | undefined>;
  utilization: Array<NodeView['utilization'] | undefined>;
  labels: Array<NodeView['labels'] | undefined>;
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

const LINK_CODE = new Map<string, number>(LINK_TYPES.map((t, i) => [t, i]));

export function newViewTable(nodes: number, slots: number): ViewTable {
  return {
    views: new Array<NodeView | undefined>(nodes).fill(undefined),
    power: new Array<NodeView['power']>(nodes).fill(undefined),
    network: new Array<NodeView['network']>(nodes).fill(undefined),
    cachedArtifacts: new Array<NodeView['cachedArtifacts'] | undefined>(nodes).fill(undefined),
    measuredP99Ms: new Array<NodeView['measuredP99Ms'] | undefined>(nodes).fill(undefined),
    utilization: new Array<NodeView['utilization'] | undefined>(nodes).fill(undefined),
    labels: new Array<NodeView['labels'] | undefined>(nodes).fill(undefined),
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
export function readView(t: ViewTable, i: number, view: NodeView, slotStart: number, slotEnd: number, ids: readonly string[]): void {
  t.views[i] = view;
  t.power[i] = view.power;
  t.network[i] = view.network;
  t.cachedArtifacts[i] = view.cachedArtifacts;
  if (t.measuredP99Ms[i] !== view.measuredP99Ms) {
    t.measuredP99Ms[i] = view.measuredP99Ms;
    t.measuredEpoch++;
  }
  t.utilization[i] = view.utilization;
  if (t.labels[i] !== view.labels) {
    t.labels[i] = view.labels;
    t.labelsEpoch++;
  }
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

/** True while row i still describes `view`: the same object holding the same fields. */
export function sameView(t: ViewTable, i: number, view: NodeView): boolean {
  return (
    t.views[i] === view &&
    t.ready[i] === (view.ready ? 1 : 0) &&
    t.unschedulable[i] === (view.unschedulable ? 1 : 0) &&
    t.retainReplicas[i] === (view.retainReplicas ? 1 : 0) &&
    t.power[i] === view.power &&
    t.network[i] === view.network &&
    t.cachedArtifacts[i] === view.cachedArtifacts &&
    t.measuredP99Ms[i] === view.measuredP99Ms &&
    t.utilization[i] === view.utilization &&
    t.labels[i] === view.labels
  );
}

/**
 * Reads row i again for every node whose view, or one of the view's fields, was replaced. False,
 * with the rows from the first such node on left unread, when a node no longer has the name or
 * accelerator array the rows were laid out for (`names`, `accelerators`): the caller builds them anew.
 */
export function refreshRows(
  t: ViewTable,
  nodes: readonly NodeView[],
  names: readonly string[],
  accelerators: ReadonlyArray<NodeView['accelerators']>,
  accBase: Int32Array,
  ids: readonly string[],
): boolean {
  for (let i = 0; i < nodes.length; i++) {
    const view = nodes[i]!;
    if (names[i] !== view.name || accelerators[i] !== view.accelerators) return false;
    if (!sameView(t, i, view)) readView(t, i, view, accBase[i]!, accBase[i + 1]!, ids);
  }
  return true;
}
