import { z } from 'zod';

/** API group and version of every edgeplane resource. */
export const GROUP = 'edgeplane.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Kubernetes name rules: DNS subdomain (253) and DNS label (63). */
export const dnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase DNS subdomain');
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase DNS label');

export const ConditionStatus = z.enum(['True', 'False', 'Unknown']);

/** metav1.Condition, as the API conventions define it. */
export const Condition = z.object({
  type: z.string().min(1).max(316).describe('Condition type in CamelCase, e.g. `Ready`.'),
  status: ConditionStatus.describe('True, False or Unknown.'),
  reason: z.string().min(1).max(1024).describe('Why the condition last changed, one CamelCase word for machines.'),
  message: z.string().max(32768).default('').describe('Why the condition last changed, in a sentence for people.'),
  lastTransitionTime: z.string().describe('When the status last changed, RFC 3339.'),
  observedGeneration: z.int().min(0).optional().describe('metadata.generation the condition was computed from.'),
});
export type Condition = z.infer<typeof Condition>;

export const LabelSelectorOperator = z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']);

export const LabelSelectorRequirement = z
  .object({
    key: z.string().min(1).max(317).describe('EdgeNode label key the requirement applies to.'),
    operator: LabelSelectorOperator.describe("How the label's value relates to `values`: In, NotIn, Exists or DoesNotExist."),
    values: z
      .array(z.string().max(63))
      .max(64)
      .optional()
      .describe('Label values; non-empty for In and NotIn, absent for Exists and DoesNotExist.'),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
        message: 'values must be non-empty for operator In and NotIn, and absent for Exists and DoesNotExist',
        fieldPath: '.values',
      },
    ],
  });

/** metav1.LabelSelector over EdgeNode labels. */
export const LabelSelector = z.object({
  matchLabels: z
    .record(z.string(), z.string().max(63))
    .optional()
    .describe('Labels an EdgeNode must carry with exactly these values.'),
  matchExpressions: z
    .array(LabelSelectorRequirement)
    .max(32)
    .optional()
    .describe('Requirements on EdgeNode labels; all must hold.'),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

/**
 * The part of ObjectMeta edgeplane reads. Unknown fields pass through so that a
 * round-trip through the schema never drops what the API server sent.
 */
export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;
