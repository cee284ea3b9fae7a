// Link rules: which profile a link class allows, and whether an artifact arrives in time.
import type { LinkType, Network } from '@edgeplane/api';

/** True when the node's link class is one the deployment restricts to the lite profile. */
export function isLiteLink(liteOn: readonly LinkType[], network: Network | undefined): boolean {
  return network !== undefined && liteOn.includes(network.type);
}

/** Seconds to move `sizeBytes` over `bandwidthMbps` (megabits per second); Infinity on a dead link. */
export function fetchSeconds(sizeBytes: number, bandwidthMbps: number): number {
  return bandwidthMbps > 0 ? (sizeBytes * 8) / (bandwidthMbps * 1e6) : Infinity;
}

/**
 * True when the artifact can arrive within the deadline. An unmeasured link is given the benefit
 * of the doubt: the agent's bandwidth probe has not reported yet, and the download itself
 * resumes if it is slow.
 */
export function canFetch(sizeBytes: number, network: Network | undefined, deadlineSec: number): boolean {
  const bw = network?.bandwidthMbps;
  return bw === undefined || fetchSeconds(sizeBytes, bw) <= deadlineSec;
}
