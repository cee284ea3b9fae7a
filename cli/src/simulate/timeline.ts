// Scripted battery and link timeline: what happens to which nodes when. Parsing the YAML,
// resolving each event's node selector to names, and the state of a node at a given time are
// pure functions; the simulation applies them on a timer.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { LinkType, issuesOf, type Network, type Power } from '@edgeplane/api';
import { SimulateError } from './errors.ts';
import { PROFILE_NAMES, type ProfileName } from './profiles.ts';

const Selector = z
  .object({
    /** Only nodes of this profile. */
    profile: z.enum(PROFILE_NAMES as [ProfileName, ...ProfileName[]]).optional(),
    /** These nodes by name. */
    names: z.array(z.string().min(1)).min(1).optional(),
    /** The first `count` nodes (of the profile, when given). */
    count: z.int().min(1).optional(),
    /** The first share (0..1] of the nodes (of the profile, when given). */
    fraction: z.number().gt(0).max(1).optional(),
  })
  .strict()
  .refine((s) => [s.names, s.count, s.fraction].filter((x) => x !== undefined).length <= 1, 'give at most one of names, count and fraction');

const BatteryChange = z
  .object({
    /** Sets the level, percent. */
    percent: z.number().min(0).max(100).optional(),
    /** From this event on, the level falls this many points per minute (negative: charges). */
    drainPercentPerMin: z.number().min(-6000).max(6000).optional(),
    charging: z.boolean().optional(),
  })
  .strict();

const LinkChange = z
  .object({
    type: LinkType,
    bandwidthMbps: z.number().min(0).optional(),
    rttMs: z.number().min(0).optional(),
    metered: z.boolean().optional(),
  })
  .strict();

const TimelineEvent = z
  .object({
    /** Seconds after the simulation started. */
    at: z.number().min(0),
    nodes: Selector.prefault({}),
    battery: BatteryChange.optional(),
    link: LinkChange.optional(),
    /** true: the node goes quiet (no heartbeats); false: it comes back and says hello again. */
    silent: z.boolean().optional(),
  })
  .strict()
  .refine((e) => e.battery !== undefined || e.link !== undefined || e.silent !== undefined, 'an event needs battery, link or silent');

export const Timeline = z.object({ events: z.array(TimelineEvent).max(10_000).default([]) }).strict();
export type Timeline = z.infer<typeof Timeline>;
export type TimelineEvent = z.infer<typeof TimelineEvent>;
export type Selector = z.infer<typeof Selector>;

/** Parses a timeline file's text (YAML or JSON). */
export function parseTimeline(text: string, source = 'timeline'): Timeline {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new SimulateError('BAD_TIMELINE', `${source} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
  const result = Timeline.safeParse(raw ?? {});
  if (!result.success) {
    const detail = issuesOf(result.error).map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new SimulateError('BAD_TIMELINE', `${source}: ${detail}`, { cause: result.error });
  }
  return result.data;
}

export interface NodeRef {
  name: string;
  profile: ProfileName;
}

/** The node names a selector picks, in fleet order. */
export function selectNodes(selector: Selector, nodes: readonly NodeRef[]): string[] {
  const pool = selector.profile ? nodes.filter((n) => n.profile === selector.profile) : nodes;
  if (selector.names) {
    const known = new Set(pool.map((n) => n.name));
    const missing = selector.names.filter((n) => !known.has(n));
    if (missing.length) throw new SimulateError('UNKNOWN_NODE', `timeline names nodes that are not simulated${selector.profile ? ` as ${selector.profile}` : ''}: ${missing.slice(0, 5).join(', ')}`);
    return [...selector.names];
  }
  const take = selector.count ?? (selector.fraction !== undefined ? Math.ceil(selector.fraction * pool.length) : pool.length);
  return pool.slice(0, take).map((n) => n.name);
}

/** Each node's events, sorted by time; nodes without events are absent. */
export function resolveTimeline(timeline: Timeline, nodes: readonly NodeRef[]): Map<string, TimelineEvent[]> {
  const byNode = new Map<string, TimelineEvent[]>();
  for (const event of [...timeline.events].sort((a, b) => a.at - b.at)) {
    for (const name of selectNodes(event.nodes, nodes)) {
      const list = byNode.get(name);
      if (list) list.push(event);
      else byNode.set(name, [event]);
    }
  }
  return byNode;
}

export interface NodeConditions {
  power: Power;
  network: Network;
  silent: boolean;
}

const clampPercent = (p: number) => Math.min(100, Math.max(0, p));

/**
 * A node's power, link and silence `tSec` seconds in, from its baseline and its events
 * (sorted by time). The battery level is piecewise linear between events.
 */
export function conditionsAt(baseline: Readonly<NodeConditions>, events: readonly TimelineEvent[], tSec: number): NodeConditions {
  let power: Power = { ...baseline.power };
  let network: Network = { ...baseline.network };
  let silent = baseline.silent;
  let percent = baseline.power.batteryPercent ?? 100;
  let ratePerMin = 0;
  let since = 0;
  let touchedBattery = false;
  for (const e of events) {
    if (e.at > tSec) break;
    percent = clampPercent(percent - (ratePerMin * (e.at - since)) / 60);
    since = e.at;
    if (e.battery) {
      touchedBattery = true;
      if (e.battery.percent !== undefined) percent = e.battery.percent;
      if (e.battery.drainPercentPerMin !== undefined) ratePerMin = e.battery.drainPercentPerMin;
      // A drain on a mains node means it was unplugged.
      power = { ...power, source: power.source === 'mains' ? 'battery' : power.source };
      if (e.battery.charging !== undefined) power.charging = e.battery.charging;
    }
    if (e.link) network = { ...e.link };
    if (e.silent !== undefined) silent = e.silent;
  }
  if (touchedBattery || power.batteryPercent !== undefined) {
    power.batteryPercent = clampPercent(percent - (ratePerMin * (tSec - since)) / 60);
  }
  return { power, network, silent };
}

/** When the last event of the timeline happens, seconds; 0 when there are none. */
export function timelineEndSec(timeline: Timeline): number {
  return timeline.events.reduce((end, e) => Math.max(end, e.at), 0);
}
