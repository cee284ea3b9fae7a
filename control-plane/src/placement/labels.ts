// Kubernetes label selector semantics (matchLabels AND every matchExpression).
import type { LabelSelector } from '@edgeplane/api';

/** An absent or empty selector matches every node, as in Kubernetes. */
export function matchesSelector(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return true;
  if (selector.matchLabels !== undefined) {
    for (const key in selector.matchLabels) {
      if (labels[key] !== selector.matchLabels[key]) return false;
    }
  }
  for (const req of selector.matchExpressions ?? []) {
    const value = Object.hasOwn(labels, req.key) ? labels[req.key] : undefined;
    switch (req.operator) {
      case 'In':
        if (value === undefined || !(req.values ?? []).includes(value)) return false;
        break;
      case 'NotIn':
        // Kubernetes: a node without the key satisfies NotIn.
        if (value !== undefined && (req.values ?? []).includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
    }
  }
  return true;
}
