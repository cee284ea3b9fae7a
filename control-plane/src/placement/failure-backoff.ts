// Filter plugin: a node where every variant that could run has failed recently (a corrupted
// artifact, a signature that does not verify, a load error, memory) is not chosen until a
// backoff ends. The pairs themselves are skipped in the pair scan (candidates.ts), so a node
// with another allowed variant keeps its replica at that variant instead.
import { buildCandidates } from './candidates.ts';
import { SUCCESS, unschedulable, type FilterPlugin } from './framework.ts';

const BACKING_OFF = unschedulable('every fitting variant failed there recently (backing off)');

export const failureBackoff: FilterPlugin = {
  name: 'FailureBackoff',
  dynamic: false,
  filter: (ctx, node) => {
    buildCandidates(ctx, node);
    return node.retryablePairs > 0 ? SUCCESS : BACKING_OFF;
  },
};
