// Contract between the agent's fleet session (hello, heartbeats, assignment watch) and the
// workload manager (artifacts, ONNX Runtime sessions, balancer, serving).
import type { AcceleratorLoad, Accelerator, Assignment, WorkloadReport } from '@edgeplane/api';
import type { TrustPolicy } from '../artifacts/trust.ts';
import type { ServeGrant } from '../serve/nats.ts';

export interface WorkloadManager {
  /**
   * Makes the running workloads match the assignment: loads new ones, switches tiers by
   * loading the new variant before swapping, drains then unloads removed ones. Resolves
   * once the change is started; progress shows in `reports()`.
   */
  apply(assignment: Assignment): Promise<void>;
  /** Phase, variant, latency and rate of every workload, for the heartbeat. */
  reports(): WorkloadReport[];
  /** Utilisation and queue depth per accelerator, for the heartbeat. */
  load(): AcceleratorLoad[];
  /** sha256 digests in the artifact cache, for hello and heartbeat. */
  cachedArtifacts(): string[];
  /** Drains and releases every session. */
  close(): Promise<void>;
}

export interface WorkloadManagerOptions {
  /** Accelerators discovery found; the manager runs each workload on the assigned one. */
  accelerators: readonly Accelerator[];
  /** Artifact cache directory and its size cap, bytes. */
  cacheDir: string;
  cacheMaxBytes: number;
  /** Directories file:// artifacts may be read from; none (the default) refuses file://. */
  fileRoots?: readonly string[];
  /** Largest NATS inference payload accepted, bytes (default 8 MiB). */
  maxPayloadBytes?: number;
  /** Most elements one input tensor may claim, checked before any allocation (default 2^24). */
  maxTensorElements?: number;
  /** Keys that may sign artifacts and whether a signature is required (default: neither). */
  trust?: TrustPolicy;
  /** The node credential's per-deployment grants; absent: serve without asking. */
  serveGrant?: ServeGrant;
  /** A workload's phase or failure changed (the fleet session sends a heartbeat early). */
  onReportChange?: () => void;
  /** Whether the uplink is billed by volume now: escalation budgets shrink by their metered factor. */
  metered?: () => boolean;
  /** An artifact download over the network completed: a free bandwidth sample for the link probe. */
  onTransfer?: (bytes: number, elapsedMs: number) => void;
}
