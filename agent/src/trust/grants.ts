// Per-deployment inference grants, pure: a node credential carries one `serve:<namespace>.
// <deployment>` tag per deployment assigned to it, and nats-server lets the node subscribe to
// exactly those inference subjects. The agent checks the tag before it subscribes, so it asks
// for a renewed credential instead of collecting a permissions violation. Likewise an
// `escalate:<namespace>.<deployment>` tag per escalation tier its workloads name lets it send
// requests to that deployment's inference subject, checked before each escalation.
import { escalateTag, serveTag } from '@edgeplane/trust';

export interface DeploymentRef {
  namespace: string;
  deployment: string;
}

export function hasServeGrant(tags: readonly string[], d: DeploymentRef): boolean {
  return tags.includes(serveTag(d.namespace, d.deployment));
}

/** The tags a credential lacks for these deployments, each once, sorted. */
export function missingServeTags(tags: readonly string[], deployments: readonly DeploymentRef[]): string[] {
  const have = new Set(tags);
  return [...new Set(deployments.map((d) => serveTag(d.namespace, d.deployment)))].filter((t) => !have.has(t)).sort();
}

export function hasEscalateGrant(tags: readonly string[], d: DeploymentRef): boolean {
  return tags.includes(escalateTag(d.namespace, d.deployment));
}

/** The `escalate:` tags a credential lacks for these escalation tiers, each once, sorted. */
export function missingEscalateTags(tags: readonly string[], tiers: readonly DeploymentRef[]): string[] {
  const have = new Set(tags);
  return [...new Set(tiers.map((d) => escalateTag(d.namespace, d.deployment)))].filter((t) => !have.has(t)).sort();
}

/** Every grant a credential lacks: serving these deployments and escalating to these tiers. */
export function missingGrantTags(tags: readonly string[], serve: readonly DeploymentRef[], escalate: readonly DeploymentRef[]): string[] {
  return [...missingServeTags(tags, serve), ...missingEscalateTags(tags, escalate)].sort();
}

/**
 * Whether a credential is this node's own (issued by enrolment under its name) and so carries
 * grants; a shared or administrative credential is not gated by tags the agent can check.
 */
export function isNodeCredential(claimsName: string, node: string): boolean {
  return claimsName === node;
}
