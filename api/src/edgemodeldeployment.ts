import { z } from 'zod';
import { API_VERSION, Condition, LabelSelector, ObjectMeta } from './meta.ts';
import { LinkType, Precision, Profile } from './hardware.ts';
import { Escalation, EscalationStatus, SELF_ESCALATION_MESSAGE } from './escalation.ts';

export const EMD_KIND = 'EdgeModelDeployment';
export const EMD_PLURAL = 'edgemodeldeployments';

/** Status lists placements one by one only up to this many; counts cover the rest. */
export const MAX_STATUS_PLACEMENTS = 200;
export const MAX_VARIANTS = 16;

/** Longest signature text accepted: base64 of a DER ECDSA signature (P-256's takes at most 96). */
export const MAX_SIGNATURE_CHARS = 256;

const PADDED_BASE64 = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';
const PADDED_BASE64_RE = new RegExp(PADDED_BASE64);
const SIGNATURE_MESSAGE = 'signature must be standard base64 with padding, as `edgeplane model sign` or `cosign sign-blob --key` prints it';

/** A detached artifact signature as `edgeplane model sign` and `cosign sign-blob --key` print it. */
export const ArtifactSignature = z
  .string()
  .min(12)
  .max(MAX_SIGNATURE_CHARS)
  // A refinement here, a CEL rule in the CRD: the API server then answers with this sentence.
  .refine((s) => PADDED_BASE64_RE.test(s), SIGNATURE_MESSAGE)
  .meta({
    description:
      "Base64 of the ASN.1 DER ECDSA-SHA256 signature of the artifact's bytes, as `edgeplane model sign --key` or `cosign sign-blob --key` prints it. " +
      'Agents verify it with the public keys of their trust policy before loading the artifact; an agent that requires signatures never loads a variant without one.',
    'x-kubernetes-validations': [{ rule: `self.matches('${PADDED_BASE64}')`, message: SIGNATURE_MESSAGE }],
  });

export const ModelVariant = z.object({
  name: z.string().min(1).max(63).describe('Variant name, unique within the model, e.g. `fp16-full`.'),
  precision: Precision.describe('Numeric precision the artifact runs in: fp32, fp16 or int8.'),
  profile: Profile.default('full').describe('`full`, or `lite` for the smaller, faster-to-fetch model.'),
  uri: z
    .string()
    .min(1)
    .max(2048)
    .meta({
      'x-kubernetes-validations': [
        {
          rule: "self.startsWith('https://') || self.startsWith('file://') || self.startsWith('nats-obj://')",
          message: 'uri must start with https://, file:// or nats-obj://',
        },
      ],
    })
    .describe('Where agents fetch the artifact: https://, file://, or nats-obj://<bucket>/<object> in the JetStream object store.'),
  sha256: z
    .string()
    .max(64)
    .meta({
      'x-kubernetes-validations': [
        { rule: "self.matches('^[0-9a-f]{64}$')", message: 'sha256 must be 64 lowercase hexadecimal characters' },
      ],
    })
    .describe("SHA-256 of the artifact's bytes, 64 lowercase hexadecimal characters; agents refuse an artifact that does not match."),
  sizeBytes: z.int().min(1).describe('Artifact size, bytes.'),
  signature: ArtifactSignature.optional(),
  accuracy: z.number().min(0).max(1).describe("Task accuracy in [0, 1] measured on the model's evaluation set."),
  gflops: z.number().min(0).describe('Giga floating-point (or integer) operations per inference at batch 1.'),
  memoryMiB: z.int().min(1).describe('Resident memory once loaded, MiB.'),
});
export type ModelVariant = z.infer<typeof ModelVariant>;

export const ModelSpec = z.object({
  name: z.string().min(1).max(253).describe('Model name, e.g. `ppocr-v4-cls`.'),
  task: z.string().min(1).max(128).describe('What the model does, e.g. `text-direction-classification`.'),
  variants: z
    .array(ModelVariant)
    .min(1)
    .max(MAX_VARIANTS)
    .meta({
      'x-kubernetes-validations': [
        { rule: 'self.all(v, self.exists_one(w, w.name == v.name))', message: 'variant names must be unique' },
      ],
    })
    .describe('The artifacts of the model, one per precision and profile; placement picks one per replica.'),
});

export const PlacementSpec = z
  .object({
    selector: LabelSelector.optional().describe('Only EdgeNodes whose labels match are considered; all nodes when absent.'),
    spreadBy: z
      .string()
      .max(317)
      .meta({
        'x-kubernetes-validations': [
          {
            rule: "self.matches('^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')",
            message: 'spreadBy must be a label key such as topology.edgeplane.io/site',
          },
        ],
      })
      .optional()
      .describe('EdgeNode label whose values replicas spread over, e.g. `topology.edgeplane.io/site`.'),
    maxPerNode: z.int().default(1).describe('Most replicas of this deployment on one node.'),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'self.maxPerNode >= 1', message: 'maxPerNode must be at least 1', fieldPath: '.maxPerNode' },
    ],
  });

export const Slo = z.object({
  latencyMs: z.number().gt(0).describe('Target p99 latency per inference, milliseconds.'),
  minAccuracy: z.number().min(0).max(1).default(0).describe('Variants below this accuracy are never placed.'),
  throughputRps: z.number().min(0).optional().describe('Inferences per second the deployment should sustain in total.'),
});

export const Objective = z.enum(['accuracy', 'latency', 'energy']);
export type Objective = z.infer<typeof Objective>;

export const BatteryTiering = z
  .object({
    fp16BelowPercent: z.number().min(0).max(100).default(50).describe('Below this battery percentage the precision is capped at fp16.'),
    int8BelowPercent: z.number().min(0).max(100).default(20).describe('Below this battery percentage the precision is capped at int8.'),
    hysteresisPercent: z
      .number()
      .min(0)
      .max(50)
      .default(5)
      .describe('A cap is lifted only once the battery is this many points above its threshold.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'self.int8BelowPercent < self.fp16BelowPercent',
        message: 'int8BelowPercent must be below fp16BelowPercent',
        fieldPath: '.int8BelowPercent',
      },
      {
        rule: 'self.hysteresisPercent < self.fp16BelowPercent - self.int8BelowPercent',
        message: 'hysteresisPercent must be smaller than the gap between fp16BelowPercent and int8BelowPercent',
        fieldPath: '.hysteresisPercent',
      },
    ],
  });

export const NetworkTiering = z.object({
  liteOn: z
    .array(LinkType)
    .max(5)
    .default(['cellular-4g', 'lora'])
    .describe('Link classes that force the lite profile unless the full variant is already cached on the node.'),
});

export const Tiering = z.object({
  objective: Objective.default('accuracy').describe(
    'What placement favours: accuracy (the most accurate variant that meets the latency SLO), latency (the fastest) or energy (the least energy per inference that meets the SLO).',
  ),
  battery: BatteryTiering.prefault({}).describe('Precision caps on battery-powered nodes.'),
  network: NetworkTiering.prefault({}).describe('Profile rules per uplink class.'),
});
export type Tiering = z.infer<typeof Tiering>;

const intOrString = z
  .union([z.int().min(0), z.string().regex(/^\d+%?$/)])
  .meta({ 'x-kubernetes-int-or-string': true });

export const Rollout = z
  .object({
    maxUnavailable: intOrString
      .default(1)
      .describe('Replicas (a number, or a percentage of spec.replicas) that may be not Ready during a rollout.'),
    maxSurge: intOrString
      .default(1)
      .describe('Replicas (a number, or a percentage of spec.replicas) placed above spec.replicas during a rollout.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "!(string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])",
        message: 'maxSurge and maxUnavailable must not both be zero, or a rollout could never progress',
        fieldPath: '.maxSurge',
      },
    ],
  });

export const EdgeModelDeploymentSpec = z
  .object({
    model: ModelSpec.describe('The model and its variants.'),
    replicas: z.int().min(0).max(100000).default(1).describe('Nodes that should serve the model.'),
    placement: PlacementSpec.prefault({}).describe('Which nodes may serve it and how replicas spread over them.'),
    slo: Slo.describe('Latency, accuracy and throughput the deployment must meet.'),
    tiering: Tiering.prefault({}).describe('How precision and profile follow battery and link.'),
    rollout: Rollout.prefault({}).describe('How fast a changed spec replaces running replicas.'),
    batching: z
      .object({
        maxBatch: z.int().min(1).max(256).default(1).describe('Largest batch the agent runs at once; 1 turns batching off.'),
        maxQueueDelayMs: z
          .number()
          .min(0)
          .max(1000)
          .default(0)
          .describe('Longest a request waits for others to fill a batch, milliseconds.'),
      })
      .prefault({})
      .describe('Dynamic batching on the agent: largest batch and the longest a request waits for one.'),
    escalation: Escalation.optional().describe(
      'Joint inference: inputs this deployment is unsure of go to a bigger deployment, within a per-node budget; absent, every answer comes from this deployment.',
    ),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'self.model.variants.exists(v, v.accuracy >= self.slo.minAccuracy)',
        message: 'no variant in spec.model.variants reaches slo.minAccuracy',
        fieldPath: '.slo.minAccuracy',
      },
    ],
  })
  .describe('What the user wants: the model and its variants, how many replicas, where, and the SLO.');
export type EdgeModelDeploymentSpec = z.infer<typeof EdgeModelDeploymentSpec>;

export const PLACEMENT_PHASES = ['Pending', 'Downloading', 'Loading', 'Ready', 'Failed'] as const;
export const PlacementPhase = z.enum(PLACEMENT_PHASES);
export type PlacementPhase = z.infer<typeof PlacementPhase>;

export const PlacementStatus = z.object({
  node: z.string().describe('EdgeNode serving the replica.'),
  accelerator: z.string().describe('Accelerator id on that node, e.g. `gpu0`.'),
  variant: z.string().describe('Variant placed, a name from spec.model.variants.'),
  precision: Precision.describe("The variant's precision."),
  profile: Profile.describe("The variant's profile."),
  phase: PlacementPhase.describe('Pending, Downloading, Loading, Ready or Failed, as the agent reports it.'),
  reason: z.string().optional().describe('Why this tier or why the phase, one CamelCase word.'),
  message: z.string().optional().describe('The reason in a sentence.'),
  p99LatencyMs: z.number().optional().describe('p99 latency the agent measured, milliseconds.'),
});
export type PlacementStatus = z.infer<typeof PlacementStatus>;

/** Failures kept in status at most: the newest win, older pairs are forgotten. */
export const MAX_STATUS_FAILURES = 64;

/**
 * A variant that failed on a node (fetch, digest, signature, load, memory): placement avoids
 * the pair until `retryAfter`, and the wait doubles with each failure. Kept in status so that
 * a new leader backs off the same pairs.
 */
export const VariantFailure = z.object({
  node: z.string().max(253).describe('EdgeNode the variant failed on.'),
  variant: z.string().max(63).describe('Variant that failed.'),
  sha256: z.string().max(64).describe('The digest that failed: a variant given a new artifact starts with a clean slate.'),
  reason: z.string().max(256).describe('What failed, one CamelCase word, e.g. `DigestMismatch`, `OutOfMemory`.'),
  message: z.string().max(1024).optional().describe("The agent's account of the failure."),
  count: z.int().min(1).describe('Failures of this pair in a row.'),
  lastFailureTime: z.string().describe('When the pair last failed, RFC 3339.'),
  retryAfter: z.string().describe('RFC 3339; the pair is not placed before this.'),
});
export type VariantFailure = z.infer<typeof VariantFailure>;

const counts = <T extends readonly [string, ...string[]]>(keys: T, what: (key: string) => string) =>
  z.object(
    Object.fromEntries(keys.map((k) => [k, z.int().min(0).optional().describe(what(k))])) as { [K in T[number]]: z.ZodOptional<z.ZodInt> },
  );

export const EdgeModelDeploymentStatus = z
  .object({
    observedGeneration: z.int().optional().describe('metadata.generation this status was computed from.'),
    replicas: z.int().min(0).optional().describe('Replicas placed on a node, whatever their phase.'),
    readyReplicas: z.int().min(0).optional().describe('Replicas whose phase is Ready.'),
    unplacedReplicas: z.int().min(0).optional().describe('Desired replicas no node could take.'),
    ready: z.string().optional().describe('`ready/desired`, for the READY printer column.'),
    tiers: z.string().optional().describe('Precision mix such as `fp16:2 int8:1`, for the TIERS printer column.'),
    precisionCounts: counts(['fp32', 'fp16', 'int8'] as const, (k) => `Replicas placed at ${k}.`)
      .optional()
      .describe('Replicas per precision, for any number of replicas.'),
    phaseCounts: counts(PLACEMENT_PHASES, (k) => `Replicas in phase ${k}.`)
      .optional()
      .describe('Replicas per phase, for any number of replicas.'),
    placements: z
      .array(PlacementStatus)
      .max(MAX_STATUS_PLACEMENTS)
      .optional()
      .describe(`Each replica's node, accelerator, variant and phase; at most ${MAX_STATUS_PLACEMENTS} (the control plane's API lists all).`),
    placementsTruncated: z
      .boolean()
      .optional()
      .describe(`True when placements lists only the first ${MAX_STATUS_PLACEMENTS}.`),
    failures: z
      .array(VariantFailure)
      .max(MAX_STATUS_FAILURES)
      .optional()
      .describe('Recent failures per (node, variant), newest first; placement backs off each pair, doubling the wait.'),
    escalation: EscalationStatus.optional().describe(
      'Joint inference, when spec.escalation is set: whether the escalation tier can answer, the share escalated and the bytes sent upward.',
    ),
    conditions: z
      .array(Condition)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
      .describe('Ready: every desired replica is Ready. Progressing: replicas are being rolled out. Degraded: replicas are unplaced or failed; its reason (Unschedulable, VariantFailed, PlacementFailed) says why. EscalationAvailable (with spec.escalation): False when the escalation tier has no Ready replica, so hard inputs get the edge answer.'),
  })
  .describe('What the control plane decided and observed: placements, counts and conditions.');
export type EdgeModelDeploymentStatus = z.infer<typeof EdgeModelDeploymentStatus>;

export const EdgeModelDeployment = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(EMD_KIND),
    metadata: ObjectMeta,
    spec: EdgeModelDeploymentSpec,
    status: EdgeModelDeploymentStatus.optional(),
  })
  // The spec cannot see the name: the CRD checks this at the root too (crd.ts).
  .refine((d) => !d.spec.escalation || d.spec.escalation.deployment !== d.metadata.name, {
    message: SELF_ESCALATION_MESSAGE,
    path: ['spec', 'escalation', 'deployment'],
  });
export type EdgeModelDeployment = z.infer<typeof EdgeModelDeployment>;
export type EdgeModelDeploymentInput = z.input<typeof EdgeModelDeployment>;
