// Fields every log line inside one reconcile carries, as controller-runtime's reconcileID:
// the reconciler's own lines and those of what it calls, without passing a logger down.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

interface ReconcileScope {
  reconcileID: string;
}

const scope = new AsyncLocalStorage<ReconcileScope>();

/** Runs fn under a new reconcileID. */
export function inReconcile<T>(fn: () => Promise<T>): Promise<T> {
  return scope.run({ reconcileID: randomUUID() }, fn);
}

/** The reconcileID of the reconcile running now, if any. */
export function currentReconcileID(): string | undefined {
  return scope.getStore()?.reconcileID;
}

/** A pino mixin adding the reconcileID to lines logged inside a reconcile. */
export function logContextMixin(): Record<string, string> {
  const id = scope.getStore()?.reconcileID;
  return id === undefined ? {} : { reconcileID: id };
}
