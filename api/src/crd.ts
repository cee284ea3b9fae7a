import { z } from 'zod';
import { GROUP, VERSION } from './meta.ts';
import { EMD_KIND, EMD_PLURAL, EdgeModelDeploymentSpec, EdgeModelDeploymentStatus } from './edgemodeldeployment.ts';
import { SELF_ESCALATION_MESSAGE } from './escalation.ts';
import { EN_KIND, EN_PLURAL, EdgeNodeSpec, EdgeNodeStatus } from './edgenode.ts';

type JSONSchema = { [key: string]: unknown };

/** zod's JSON Schema bound for an unbounded integer; the API server needs none. */
const SAFE_INT = Number.MAX_SAFE_INTEGER;

/**
 * Turns zod's OpenAPI 3.0 output into a Kubernetes structural schema: no `$schema`,
 * no `additionalProperties: false` (unknown fields are pruned by the API server instead),
 * int-or-string in the form the API server expects, and no bounds that only say "int".
 */
export function toStructural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStructural);
  if (node === null || typeof node !== 'object') return node;
  const src = node as JSONSchema;
  const out: JSONSchema = {};
  for (const [key, value] of Object.entries(src)) {
    if (key === '$schema' || key === 'id' || key === '$id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if ((key === 'minimum' && value === -SAFE_INT) || (key === 'maximum' && value === SAFE_INT)) continue;
    // Keys of `properties` are field names, not keywords: a field may well be called `id`.
    out[key] = key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as JSONSchema).map(([name, prop]) => [name, toStructural(prop)]))
      : toStructural(value);
  }
  fillObjectDefault(out);
  if (out['x-kubernetes-int-or-string'] === true) {
    // The only anyOf a structural schema allows here: bare types, no value validations.
    return { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }], ...pick(out, ['default', 'description']) };
  }
  return out;
}

/**
 * `default: {}` becomes the object its properties' defaults describe: the API server checks
 * a default against the CEL rules as written, before nested defaults apply.
 */
function fillObjectDefault(schema: JSONSchema): void {
  const def = schema.default;
  const props = schema.properties as Record<string, JSONSchema> | undefined;
  if (!props || def === null || typeof def !== 'object' || Array.isArray(def)) return;
  const filled: JSONSchema = { ...(def as JSONSchema) };
  for (const [name, prop] of Object.entries(props)) {
    if (!(name in filled) && prop.default !== undefined) filled[name] = prop.default;
  }
  schema.default = filled;
}

function pick(obj: JSONSchema, keys: string[]): JSONSchema {
  return Object.fromEntries(keys.filter((k) => k in obj).map((k) => [k, obj[k]]));
}

export function openApiOf(schema: z.ZodType): JSONSchema {
  return toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' })) as JSONSchema;
}

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface CrdInput {
  kind: string;
  plural: string;
  shortName: string;
  scope: 'Namespaced' | 'Cluster';
  /** What `kubectl explain <kind>` says about the resource. */
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
  /** CEL rules on the whole object: only there can a rule see metadata.name. */
  rootValidations?: Array<{ rule: string; message: string; fieldPath?: string }>;
}

/** The API conventions' own words for the fields every object has. */
const META_DESCRIPTIONS = {
  apiVersion: 'APIVersion defines the versioned schema of this representation of an object: edgeplane.io/v1alpha1.',
  kind: 'Kind is a string value representing the REST resource this object represents.',
} as const;

function crd(input: CrdInput): JSONSchema {
  const singular = input.kind.toLowerCase();
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${input.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'edgeplane' } },
    spec: {
      group: GROUP,
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular,
        shortNames: [input.shortName],
        categories: ['edgeplane'],
      },
      scope: input.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: input.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: input.description,
              required: ['spec'],
              ...(input.rootValidations ? { 'x-kubernetes-validations': input.rootValidations } : {}),
              properties: {
                apiVersion: { type: 'string', description: META_DESCRIPTIONS.apiVersion },
                kind: { type: 'string', description: META_DESCRIPTIONS.kind },
                // The API server refuses anything here but name and generateName; it documents ObjectMeta itself.
                metadata: { type: 'object' },
                spec: openApiOf(input.spec),
                status: openApiOf(input.status),
              },
            },
          },
        },
      ],
    },
  };
}

export function edgeModelDeploymentCrd(): JSONSchema {
  return crd({
    kind: EMD_KIND,
    plural: EMD_PLURAL,
    shortName: 'emd',
    scope: 'Namespaced',
    description:
      'A model served by a fleet of edge nodes: its variants (precision and profile), replicas, placement, SLO and tiering rules. ' +
      'The control plane places each replica on a node and keeps it at the best tier its accelerator, battery and link afford.',
    spec: EdgeModelDeploymentSpec,
    status: EdgeModelDeploymentStatus,
    rootValidations: [
      {
        rule: '!has(self.spec.escalation) || self.spec.escalation.deployment != self.metadata.name',
        message: SELF_ESCALATION_MESSAGE,
        fieldPath: '.spec.escalation.deployment',
      },
    ],
    columns: [
      { name: 'Model', type: 'string', jsonPath: '.spec.model.name' },
      { name: 'Ready', type: 'string', jsonPath: '.status.ready', description: 'Ready replicas over desired replicas' },
      { name: 'Tiers', type: 'string', jsonPath: '.status.tiers', description: 'Replicas per precision tier' },
      { name: 'Unplaced', type: 'integer', jsonPath: '.status.unplacedReplicas', description: 'Desired replicas no node could take', priority: 1 },
      {
        name: 'Degraded',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Degraded")].reason',
        description: 'Reason of the Degraded condition: AsExpected, Unschedulable, VariantFailed or PlacementFailed',
      },
      { name: 'Objective', type: 'string', jsonPath: '.spec.tiering.objective', priority: 1 },
      {
        name: 'Escalated',
        type: 'number',
        jsonPath: '.status.escalation.ratio',
        description: 'Share of requests sent to the escalation tier (joint inference); empty without spec.escalation or before the first request',
        priority: 1,
      },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}

export function edgeNodeCrd(): JSONSchema {
  return crd({
    kind: EN_KIND,
    plural: EN_PLURAL,
    shortName: 'en',
    scope: 'Cluster',
    description:
      'An edge device running the edgeplane agent, created by the control plane when the agent first says hello. ' +
      'Labels live in metadata.labels; spec.unschedulable cordons it; status is what the agent observed.',
    spec: EdgeNodeSpec,
    status: EdgeNodeStatus,
    columns: [
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Accelerators', type: 'string', jsonPath: '.status.acceleratorSummary' },
      { name: 'Power', type: 'string', jsonPath: '.status.powerSummary' },
      { name: 'Link', type: 'string', jsonPath: '.status.network.type' },
      { name: 'Agent', type: 'string', jsonPath: '.status.agentVersion', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  });
}

/** File name under crds/ and the CRD object, for every resource. */
export function allCrds(): Array<{ file: string; crd: JSONSchema }> {
  return [
    { file: `${EMD_PLURAL}.${GROUP}.yaml`, crd: edgeModelDeploymentCrd() },
    { file: `${EN_PLURAL}.${GROUP}.yaml`, crd: edgeNodeCrd() },
  ];
}
