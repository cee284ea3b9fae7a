import { z } from 'zod';
import { API_VERSION, Condition, LabelSelector, ObjectMeta } from './meta.ts';
import { LinkType, Precision, Profile } from './hardware.ts';

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
  name: z.string().min(1).max(63),
  precision: Precision,
  profile: Profile.default('full'),
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
    }),
  sha256: z
    .string()
    .max(64)
    .meta({
      'x-kubernetes-validations': [
        { rule: "self.matches('^[0-9a-f]{64}$')", message: 'sha256 must be 64 lowercase hexadecimal characters' },
      ],
    }),
  sizeBytes: z.int().min(1),
  signature: ArtifactSignature.optional(),
  /** Task accuracy in [0, 1] measured on the model's evaluation set. */
  accuracy: z.number().min(0).max(1),
  /** Giga floating-point (or integer) operations per inference at batch 1. */
  gflops: z.number().min(0),
  /** Resident memory once loaded, MiB. */
  memoryMiB: z.int().min(1),
});
export type ModelVariant = z.infer<typeof ModelVariant>;

export const ModelSpec = z.object({
  name: z.string().min(1).max(253),
  task: z.string().min(1).max(128),
  variants: z
    .array(ModelVariant)
    .min(1)
    .max(MAX_VARIANTS)
    .meta({
      'x-kubernetes-validations': [
        { rule: 'self.all(v, self.exists_one(w, w.name == v.name))', message: 'variant names must be unique' },
      ],
    }),
});

export const PlacementSpec = z
  .object({
    selector: LabelSelector.optional(),
    /** EdgeNode label whose values replicas spread over, e.g. `topology.edgeplane.io/site`. */
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
      .optional(),
    maxPerNode: z.int().default(1),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'self.maxPerNode >= 1', message: 'maxPerNode must be at least 1', fieldPath: '.maxPerNode' },
    ],
  });

export const Slo = z.object({
  /** p99 latency per inference, milliseconds. */
  latencyMs: z.number().gt(0),
  minAccuracy: z.number().min(0).max(1).default(0),
  throughputRps: z.number().min(0).optional(),
});

export const Objective = z.enum(['accuracy', 'latency', 'energy']);
export type Objective = z.infer<typeof Objective>;

export const BatteryTiering = z
  .object({
    /** Below this battery percentage the precision is capped at fp16. */
    fp16BelowPercent: z.number().min(0).max(100).default(50),
    /** Below this battery percentage the precision is capped at int8. */
    int8BelowPercent: z.number().min(0).max(100).default(20),
    /** A cap is lifted only once the battery is this many points above its threshold. */
    hysteresisPercent: z.number().min(0).max(50).default(5),
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
  /** Link classes that force the lite profile unless the full variant is already cached. */
  liteOn: z.array(LinkType).max(5).default(['cellular-4g', 'lora']),
});

export const Tiering = z.object({
  objective: Objective.default('accuracy'),
  battery: BatteryTiering.prefault({}),
  network: NetworkTiering.prefault({}),
});
export type Tiering = z.infer<typeof Tiering>;

const intOrString = z
  .union([z.int().min(0), z.string().regex(/^\d+%?$/)])
  .meta({ 'x-kubernetes-int-or-string': true });

export const Rollout = z
  .object({
    maxUnavailable: intOrString.default(1),
    maxSurge: intOrString.default(1),
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
    model: ModelSpec,
    replicas: z.int().min(0).max(100000).default(1),
    placement: PlacementSpec.prefault({}),
    slo: Slo,
    tiering: Tiering.prefault({}),
    rollout: Rollout.prefault({}),
    /** Dynamic batching on the agent: largest batch and the longest a request waits for one. */
    batching: z
      .object({
        maxBatch: z.int().min(1).max(256).default(1),
        maxQueueDelayMs: z.number().min(0).max(1000).default(0),
      })
      .prefault({}),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'self.model.variants.exists(v, v.accuracy >= self.slo.minAccuracy)',
        message: 'no variant in spec.model.variants reaches slo.minAccuracy',
        fieldPath: '.slo.minAccuracy',
      },
    ],
  });
export type EdgeModelDeploymentSpec = z.infer<typeof EdgeModelDeploymentSpec>;

export const PLACEMENT_PHASES = ['Pending', 'Downloading', 'Loading', 'Ready', 'Failed'] as const;
export const PlacementPhase = z.enum(PLACEMENT_PHASES);
export type PlacementPhase = z.infer<typeof PlacementPhase>;

export const PlacementStatus = z.object({
  node: z.string(),
  accelerator: z.string(),
  variant: z.string(),
  precision: Precision,
  profile: Profile,
  phase: PlacementPhase,
  reason: z.string().optional(),
  message: z.string().optional(),
  p99LatencyMs: z.number().optional(),
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
  node: z.string().max(253),
  variant: z.string().max(63),
  /** The digest that failed: a variant given a new artifact starts with a clean slate. */
  sha256: z.string().max(64),
  reason: z.string().max(256),
  message: z.string().max(1024).optional(),
  /** Failures of this pair in a row. */
  count: z.int().min(1),
  lastFailureTime: z.string(),
  /** RFC 3339; the pair is not placed before this. */
  retryAfter: z.string(),
});
export type VariantFailure = z.infer<typeof VariantFailure>;

const counts = <T extends readonly [string, ...string[]]>(keys: T) =>
  z.object(Object.fromEntries(keys.map((k) => [k, z.int().min(0).optional()])) as { [K in T[number]]: z.ZodOptional<z.ZodInt> });

export const EdgeModelDeploymentStatus = z.object({
  observedGeneration: z.int().optional(),
  replicas: z.int().min(0).optional(),
  readyReplicas: z.int().min(0).optional(),
  unplacedReplicas: z.int().min(0).optional(),
  /** `ready/desired`, for the READY printer column. */
  ready: z.string().optional(),
  /** Precision mix such as `fp16:2 int8:1`, for the TIERS printer column. */
  tiers: z.string().optional(),
  precisionCounts: counts(['fp32', 'fp16', 'int8'] as const).optional(),
  phaseCounts: counts(PLACEMENT_PHASES).optional(),
  placements: z.array(PlacementStatus).max(MAX_STATUS_PLACEMENTS).optional(),
  /** True when `placements` lists only the first MAX_STATUS_PLACEMENTS; the API has all. */
  placementsTruncated: z.boolean().optional(),
  /** Recent failures per (node, variant), newest first. */
  failures: z.array(VariantFailure).max(MAX_STATUS_FAILURES).optional(),
  conditions: z
    .array(Condition)
    .max(16)
    .optional()
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
});
export type EdgeModelDeploymentStatus = z.infer<typeof EdgeModelDeploymentStatus>;

export const EdgeModelDeployment = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(EMD_KIND),
  metadata: ObjectMeta,
  spec: EdgeModelDeploymentSpec,
  status: EdgeModelDeploymentStatus.optional(),
});
export type EdgeModelDeployment = z.infer<typeof EdgeModelDeployment>;
export type EdgeModelDeploymentInput = z.input<typeof EdgeModelDeployment>;
