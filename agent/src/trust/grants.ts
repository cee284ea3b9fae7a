// Per-deployment inference grants, pure: a node credential carries one `serve:<namespace>.
// <deployment>` tag per deployment assigned to it, and nats-server lets the node subscribe to
// exactly those inference subjects. The agent checks the tag before it subscribes, so it asks
// for a renewed credential instead of collecting a permissions violation.
import { serveTag } from '@edgeplane/trust';

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

/**
 * Whether a credential is this node's own (issued by enrolment under its name) and so carries
 * grants; a shared or administrative credential is not gated by tags the agent can check.
 */
export function isNodeCredential(claimsName: string, node: string): boolean {
  return claimsName === node;
}
