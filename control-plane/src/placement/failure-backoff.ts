// Filter plugin: a node where every variant that could run has failed recently (a corrupted
// artifact, a signature that does not verify, a load error, memory) is not chosen until a
// backoff ends. Its pair rule skips the failed pairs in the pair scan (candidates.ts), so a node
// with another allowed variant keeps its replica at that variant instead.
import type { PairFilterPlugin } from './framework.ts';

export const failureBackoff: PairFilterPlugin = {
  name: 'FailureBackoff',
  dynamic: false,
  admits: (ctx, node, _slot, v) => node.excluded === undefined || !node.excluded.has(ctx.eligible[node.capRank].variants[v]!.name),
  passes: (_ctx, node) => node.retryablePairs > 0,
  reason: () => 'every fitting variant failed there recently (backing off)',
};
