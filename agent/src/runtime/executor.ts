// Adapts a loaded session to the balancer: a batch of requests is stacked along the first
// axis, run once, and the outputs split back per request.
import type { Executor } from '../balancer/index.ts';
import { InferenceError } from '../workloads/errors.ts';
import { runSession, type LoadedSession } from './session.ts';
import { concatBatch, splitBatch, type WireTensor } from './tensors.ts';

/** One inference request: its inputs, checked and in the model's order. */
export type InferInputs = WireTensor[];

export function rowsOf(inputs: InferInputs): number {
  return inputs[0]?.shape[0] ?? 1;
}

export function sessionExecutor(
  loaded: LoadedSession,
  id: string,
  acceleratorId: string,
  label: string,
  priorMs: number,
): Executor<InferInputs, WireTensor[]> {
  return {
    id,
    acceleratorId,
    priorMs,
    async run(requests) {
      try {
        const outputs = await runSession(loaded.session, loaded.outputs, concatBatch(requests));
        return splitBatch(outputs, requests.map(rowsOf));
      } catch (cause) {
        throw new InferenceError(label, { cause });
      }
    },
  };
}
