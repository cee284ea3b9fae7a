// What the serving side needs of a model: the contract between the workload manager and
// the NATS and HTTP front ends.
import type { PlacementPhase, WorkloadAssignment } from '@edgeplane/api';
import type { TensorSpec, WireTensor } from '../runtime/index.ts';

export interface ServedModel {
  /** `<namespace>/<deployment>`. */
  readonly key: string;
  readonly assignment: WorkloadAssignment;
  readonly phase: PlacementPhase;
  readonly ready: boolean;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  infer(tensors: readonly WireTensor[], options?: { timeoutMs?: number }): Promise<WireTensor[]>;
}

export interface ModelRegistry {
  /** By deployment name, `<namespace>/<deployment>` or `<namespace>.<deployment>`; null if unknown or ambiguous. */
  model(name: string): ServedModel | null;
  models(): ServedModel[];
}
