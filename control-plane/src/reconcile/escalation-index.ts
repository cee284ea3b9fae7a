// Which deployments escalate to which, from the informer's events: when a tier's availability
// changes (created, deleted, its first replica Ready or its last one gone), the deployments
// escalating to it are reconciled again, as controller-runtime's Watches with a mapping
// function would. Only state changes count: the tier's own status writes that leave it as
// available as before requeue nothing.
import type { EdgeModelDeployment } from '@edgeplane/api';
import { escalationTargetKey, tierStateOf, type TierState } from './escalation.ts';

export class EscalationIndex {
  /** Deployment -> the tier it escalates to. */
  readonly #target = new Map<string, string>();
  /** Tier -> the deployments escalating to it. */
  readonly #dependents = new Map<string, Set<string>>();
  /** Each deployment's availability as a tier, as last seen. */
  readonly #state = new Map<string, TierState>();

  /**
   * Takes one informer event; returns the deployments to reconcile again because the tier
   * `key` changed state (none when it did not).
   */
  observe(type: 'add' | 'update' | 'delete', key: string, obj: EdgeModelDeployment | undefined): string[] {
    const gone = type === 'delete' || !obj;
    this.#setTarget(key, gone ? undefined : escalationTargetKey(obj));
    const state = gone ? 'not-found' : tierStateOf(obj);
    const prev = this.#state.get(key) ?? 'not-found';
    if (gone) this.#state.delete(key);
    else this.#state.set(key, state);
    if (state === prev) return [];
    return [...(this.#dependents.get(key) ?? [])].sort();
  }

  /** The deployments escalating to a tier (for tests and logs). */
  dependentsOf(tier: string): string[] {
    return [...(this.#dependents.get(tier) ?? [])].sort();
  }

  #setTarget(key: string, target: string | undefined): void {
    const prev = this.#target.get(key);
    if (prev === target) return;
    if (prev !== undefined) {
      const set = this.#dependents.get(prev);
      set?.delete(key);
      if (set?.size === 0) this.#dependents.delete(prev);
    }
    if (target === undefined) {
      this.#target.delete(key);
      return;
    }
    this.#target.set(key, target);
    let set = this.#dependents.get(target);
    if (!set) this.#dependents.set(target, (set = new Set()));
    set.add(key);
  }
}
