import { z } from 'zod';
import { Accelerator, HostInfo, Network, Power, Precision, Profile } from './hardware.ts';
import { ArtifactSignature, PlacementPhase } from './edgemodeldeployment.ts';
import { Escalation, EscalationCounters } from './escalation.ts';
import { enrollSubject } from '@edgeplane/trust';

/** Version of the fleet protocol; every message carries it as `v`. */
export const PROTOCOL_VERSION = 1;

/** A node name as it appears in a subject and a KV key: a DNS label. */
export const NodeName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase DNS label');

/** Subjects and stores of protocol v1, in one place so both sides agree. */
export const subjects = {
  hello: (node: string) => `ep.v1.node.${node}.hello`,
  status: (node: string) => `ep.v1.node.${node}.status`,
  /** Wildcards the control plane subscribes to. */
  allHello: 'ep.v1.node.*.hello',
  allStatus: 'ep.v1.node.*.status',
  /** Bandwidth probe: the agent sends a payload, the control plane echoes its size. */
  probe: (node: string) => `ep.v1.node.${node}.probe`,
  allProbe: 'ep.v1.node.*.probe',
  /** Enrolment with a bootstrap token (request/reply); the bootstrap user's only subject. */
  enroll: enrollSubject,
  /** A node asks for a fresh credential (expiry, or deployments it now serves). */
  renew: (node: string) => `ep.v1.node.${node}.renew`,
  allRenew: 'ep.v1.node.*.renew',
  /**
   * Control plane to one agent (core NATS, fire and forget): a node subscribes to its own
   * only, and only the control plane may publish here.
   */
  command: (node: string) => `ep.v1.node.${node}.cmd`,
  infer: (namespace: string, deployment: string) => `ep.v1.infer.${namespace}.${deployment}`,
  /** Queue groups: every control-plane replica ingests, each message once. */
  ingestQueue: 'ep-control-plane',
  inferQueue: (namespace: string, deployment: string) => `ep-infer.${namespace}.${deployment}`,
} as const;

/** The node name is the 4th token of `ep.v1.node.<node>.<verb>`. */
export function nodeFromSubject(subject: string): string | null {
  const parts = subject.split('.');
  return parts.length === 5 && parts[0] === 'ep' && parts[1] === 'v1' && parts[2] === 'node' ? (parts[3] ?? null) : null;
}

export const stores = {
  assignments: 'ep-assignments',
  models: 'ep-models',
} as const;

/** A JetStream KV or object store bucket name (the stream is named after it). */
export const BucketName = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, - and _');

/**
 * A sha256 digest as it travels: 64 lowercase hex characters. Digests name files in the
 * agent's cache, so nothing else (no `/`, no `..`, no upper case) may pass.
 */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hexadecimal characters');

export const Hello = z.object({
  v: z.literal(PROTOCOL_VERSION),
  node: NodeName,
  agentVersion: z.string().min(1).max(64),
  /** Random per process start, so the control plane can tell a restart from a reconnect. */
  bootId: z.string().min(1).max(64),
  host: HostInfo,
  accelerators: z.array(Accelerator).min(1).max(64),
  power: Power,
  network: Network,
  cachedArtifacts: z.array(Sha256Hex).max(1024).default([]),
  /** Labels the agent proposes (site, zone); the operator's labels on the EdgeNode win. */
  labels: z
    .record(z.string().max(317), z.string().max(63))
    .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels')
    .default({}),
});
export type Hello = z.infer<typeof Hello>;

/**
 * Bounds of what a hello reply may set. A reply outside them is refused whole, so a forged or
 * broken reply cannot make an agent heartbeat at 1 kHz or fall silent for hours.
 */
export const HELLO_REPLY_BOUNDS = {
  heartbeatIntervalMs: { min: 100, max: 600_000 },
  fullEvery: { min: 1, max: 1000 },
} as const;

export const HelloReply = z.object({
  v: z.literal(PROTOCOL_VERSION),
  accepted: z.boolean(),
  /** Present when not accepted. */
  reason: z.string().max(1024).optional(),
  heartbeatIntervalMs: z.int().min(HELLO_REPLY_BOUNDS.heartbeatIntervalMs.min).max(HELLO_REPLY_BOUNDS.heartbeatIntervalMs.max),
  /** Every n-th heartbeat carries the full state, the rest only what changed. */
  fullEvery: z.int().min(HELLO_REPLY_BOUNDS.fullEvery.min).max(HELLO_REPLY_BOUNDS.fullEvery.max).default(12),
  /**
   * Kept on the wire for older control planes only: an agent never takes a store name from a
   * reply (its own configuration fixes them), and logs a reply that names another one.
   */
  assignmentsBucket: BucketName.optional(),
  modelsBucket: BucketName.optional(),
});
export type HelloReply = z.infer<typeof HelloReply>;

export const AcceleratorLoad = z.object({
  id: z.string().max(63),
  /** Busy fraction over the last interval, 0..1. */
  util: z.number().min(0).max(1),
  queue: z.int().min(0),
});
export type AcceleratorLoad = z.infer<typeof AcceleratorLoad>;

export const WorkloadReport = z.object({
  /** `<namespace>/<deployment>`. */
  key: z.string().max(317),
  variant: z.string().max(63),
  accelerator: z.string().max(63),
  phase: PlacementPhase,
  reason: z.string().max(256).optional(),
  message: z.string().max(1024).optional(),
  /**
   * The variant last assigned that did not come up while `variant` keeps serving (a failed
   * switch); `reason` and `message` then say why. Absent when the assigned variant runs.
   */
  failedVariant: z.string().max(63).optional(),
  p50Ms: z.number().min(0).optional(),
  p99Ms: z.number().min(0).optional(),
  rps: z.number().min(0).optional(),
  /** Present for a workload whose assignment names an escalation tier. */
  escalation: EscalationCounters.optional(),
});
export type WorkloadReport = z.infer<typeof WorkloadReport>;

/**
 * Heartbeat. To keep an idle node near 0.1 kbit/s, each section is sent only when it
 * changed since the previous heartbeat, or on every `fullEvery`-th one (`full: true`),
 * so an idle heartbeat is little more than `{"v":1,"seq":n}`.
 */
/**
 * A command to one agent. `full-heartbeat`: the control plane lost telemetry (Redis flushed
 * or restarted, its own NATS link down), so make the next heartbeat a full one instead of
 * waiting for the `fullEvery`-th. `hello`: the control plane hears heartbeats from a node it has
 * not admitted (its hello or the reply was lost, or its EdgeNode was removed), so say hello
 * again; an agent that predates it drops the command as malformed.
 */
export const NodeCommand = z.object({
  v: z.literal(PROTOCOL_VERSION),
  op: z.enum(['full-heartbeat', 'hello']),
});
export type NodeCommand = z.infer<typeof NodeCommand>;

export const HeartbeatObject = z.object({
  v: z.literal(PROTOCOL_VERSION),
  seq: z.int().min(0),
  full: z.boolean().optional(),
  power: Power.optional(),
  network: Network.optional(),
  load: z.array(AcceleratorLoad).max(64).optional(),
  workloads: z.array(WorkloadReport).max(256).optional(),
  cachedArtifacts: z.array(Sha256Hex).max(1024).optional(),
});
/**
 * On the wire a heartbeat is either the object above or, when nothing changed (no section, not
 * full), its bare `seq` as a JSON number: `1234` instead of `{"v":1,"seq":1234}`, 12 bytes less
 * on the beat an idle node sends every interval. Both decode to the object.
 */
export const Heartbeat = z.preprocess((wire) => (typeof wire === 'number' ? { v: PROTOCOL_VERSION, seq: wire } : wire), HeartbeatObject);
export type Heartbeat = z.infer<typeof HeartbeatObject>;

/** The variant an agent must fetch and run: what it needs of ModelVariant, no more. */
export const AssignedVariant = z.object({
  name: z.string().max(63),
  precision: Precision,
  profile: Profile,
  uri: z.string().max(2048),
  /** Names the cached file: checked here, before any path is built from it. */
  sha256: Sha256Hex,
  sizeBytes: z.int().min(1),
  memoryMiB: z.int().min(1),
  /** The variant's signature, verified by the agent's trust policy before any load. */
  signature: ArtifactSignature.optional(),
});
export type AssignedVariant = z.infer<typeof AssignedVariant>;

export const WorkloadAssignment = z.object({
  /** `<namespace>/<deployment>`; unique within a node's assignment. */
  key: z.string().max(317),
  namespace: z.string().max(63),
  deployment: z.string().max(253),
  model: z.string().max(253),
  task: z.string().max(128),
  variant: AssignedVariant,
  accelerator: z.string().max(63),
  maxBatch: z.int().min(1).default(1),
  maxQueueDelayMs: z.number().min(0).default(0),
  latencySloMs: z.number().gt(0),
  /**
   * Joint inference: hard inputs go to this deployment (same namespace) on its inference
   * subject; the node's credential carries an `escalate:` grant for it. Absent: no escalation.
   */
  escalation: Escalation.optional(),
});
export type WorkloadAssignment = z.infer<typeof WorkloadAssignment>;

/** Workloads one node's assignment may hold; placement refuses a node at this count. */
export const MAX_WORKLOADS_PER_NODE = 256;

/** Value of KV key `<node>` in `ep-assignments`: the node's whole desired state. */
export const Assignment = z.object({
  v: z.literal(PROTOCOL_VERSION),
  node: NodeName,
  workloads: z.array(WorkloadAssignment).max(MAX_WORKLOADS_PER_NODE),
  /** When the control plane computed it, ms since the epoch. */
  issuedAtMs: z.int().min(0),
  /**
   * The leader term (Lease transitions) it was written under; terms only grow, so an agent
   * ignores a document from a lower term than one it applied. Absent from older writers.
   */
  term: z.int().min(0).optional(),
});
export type Assignment = z.infer<typeof Assignment>;

/** Tensor element types, named as KServe's Open Inference Protocol names them. */
export const DATATYPES = ['FP32', 'FP16', 'INT8', 'UINT8', 'INT32', 'INT64', 'BOOL'] as const;
export const Datatype = z.enum(DATATYPES);
export type Datatype = z.infer<typeof Datatype>;
export const DATATYPE_BYTES: Record<Datatype, number> = { FP32: 4, FP16: 2, INT8: 1, UINT8: 1, INT32: 4, INT64: 8, BOOL: 1 };

export const TensorMeta = z.object({
  name: z.string().min(1).max(256),
  datatype: Datatype,
  shape: z.array(z.int().min(0)).max(8),
});
export type TensorMeta = z.infer<typeof TensorMeta>;

/**
 * Inference over NATS: tensor metadata in the `ep-tensors` header (JSON array of
 * TensorMeta), raw little-endian tensor bytes concatenated in that order as the payload.
 * A reply carries the outputs the same way, or `ep-status` other than 200 with `ep-error`.
 */
export const inferHeaders = {
  tensors: 'ep-tensors',
  /** The request's time budget in ms, counted from when the serving agent receives it. */
  deadlineMs: 'ep-deadline-ms',
  status: 'ep-status',
  error: 'ep-error',
  errorCode: 'ep-error-code',
  node: 'ep-node',
  variant: 'ep-variant',
  /** Which tier answered: `edge` or `escalated` (AnswerTier). Set when the workload escalates. */
  tier: 'ep-tier',
  /** What became of the escalation (EscalationOutcome); anything but none/answered/sent marks a fallback. */
  escalation: 'ep-escalation',
} as const;
export const TensorList = z.array(TensorMeta).min(1).max(16);
