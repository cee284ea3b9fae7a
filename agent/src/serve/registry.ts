// What the serving side needs of a model: the contract between the workload manager and
// the NATS and HTTP front ends.
import type { PlacementPhase, WorkloadAssignment } from '@edgeplane/api';
import type { TensorSpec, WireTensor } from '../runtime/index.ts';
import type { Answer, AnswerOptions } from '../cascade/escalator.ts';

export type { Answer, AnswerOptions, EscalationMark } from '../cascade/escalator.ts';

export interface ServedModel {
  /** `<namespace>/<deployment>`. */
  readonly key: string;
  readonly assignment: WorkloadAssignment;
  readonly phase: PlacementPhase;
  readonly ready: boolean;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  infer(tensors: readonly WireTensor[], options?: { timeoutMs?: number }): Promise<WireTensor[]>;
  /**
   * The answer every front end sends: the edge model's, or for a workload with an escalation
   * tier possibly that tier's, marked. Absent: `infer`'s outputs are the answer.
   */
  answer?(tensors: readonly WireTensor[], options?: AnswerOptions): Promise<Answer>;
}

/** The model's answer, through `answer` when it has one. */
export async function answerOf(model: ServedModel, tensors: readonly WireTensor[], options: AnswerOptions = {}): Promise<Answer> {
  if (model.answer) return model.answer(tensors, options);
  return { outputs: await model.infer(tensors, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
}

export interface ModelRegistry {
  /** By deployment name, `<namespace>/<deployment>` or `<namespace>.<deployment>`; null if unknown or ambiguous. */
  model(name: string): ServedModel | null;
  models(): ServedModel[];
}
