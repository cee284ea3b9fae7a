// kube-scheduler's summary of why a replica found no node: identical reasons counted across
// nodes, most frequent first, in one sentence.

export function unplacedMessage(totalNodes: number, reasons: Iterable<string>): string {
  const counts = new Map<string, number>();
  for (const reason of reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([reason, n]) => `${n} ${reason}`);
  return parts.length > 0 ? `0/${totalNodes} nodes are available: ${parts.join(', ')}.` : `0/${totalNodes} nodes are available.`;
}
