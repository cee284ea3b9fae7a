// Informers over the custom resources (client-node makeInformer) with a typed cache on top:
// each object is parsed once per change with the shared zod schema.
import { makeInformer, type CustomObjectsApi, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { crd, keyOf, watchPath, type ResourceKind } from './resources.ts';
import { describeKubeError } from './errors.ts';
import { dropManagedFields, skeletonize } from './slim.ts';

export type CacheEventType = 'add' | 'update' | 'delete';
export type CacheHandler<T> = (type: CacheEventType, key: string, obj: T) => void;

export interface ResourceInformerOptions<T> {
  kc: KubeConfig;
  custom: CustomObjectsApi;
  kind: ResourceKind<T>;
  /** Namespaces to watch; empty or absent: all (or cluster-scoped). */
  namespaces?: readonly string[];
  /** Kubernetes label selector; empty or absent: every object. */
  labelSelector?: string;
  log: Logger;
  /** Delay before restarting a watch that failed, ms. */
  restartDelayMs?: number;
}

export class ResourceInformer<T> {
  readonly #opts: ResourceInformerOptions<T>;
  readonly #items = new Map<string, T>();
  readonly #handlers: CacheHandler<T>[] = [];
  readonly #informers: { informer: Informer<KubernetesObject>; listed: boolean }[] = [];
  #stopped = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(opts: ResourceInformerOptions<T>) {
    this.#opts = opts;
  }

  /** True once every underlying informer listed its objects at least once. */
  get synced(): boolean {
    return this.#informers.length > 0 && this.#informers.every((i) => i.listed);
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  list(): T[] {
    return [...this.#items.values()];
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** Objects in the cache. */
  get size(): number {
    return this.#items.size;
  }

  on(handler: CacheHandler<T>): void {
    this.#handlers.push(handler);
  }

  async start(): Promise<void> {
    const { kind, namespaces } = this.#opts;
    const scopes: (string | undefined)[] = kind.namespaced && namespaces?.length ? [...namespaces] : [undefined];
    for (const ns of scopes) {
      const entry = { informer: undefined as unknown as Informer<KubernetesObject>, listed: false };
      const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
        const result = (await this.#list(ns)) as KubernetesListObject<KubernetesObject>;
        entry.listed = true;
        return result;
      };
      entry.informer = makeInformer(this.#opts.kc, watchPath(kind as ResourceKind<unknown>, ns), list, this.#opts.labelSelector || undefined);
      entry.informer.on('add', (o) => this.#apply('add', o));
      entry.informer.on('update', (o) => this.#apply('update', o));
      entry.informer.on('delete', (o) => this.#apply('delete', o));
      entry.informer.on('error', (err: unknown) => this.#restart(entry.informer, err, ns));
      this.#informers.push(entry);
    }
    await Promise.all(this.#informers.map((i) => i.informer.start()));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    await Promise.all(this.#informers.map((i) => i.informer.stop()));
  }

  #list(namespace: string | undefined): Promise<unknown> {
    const { custom, kind } = this.#opts;
    const selector = this.#opts.labelSelector ? { labelSelector: this.#opts.labelSelector } : {};
    if (!kind.namespaced) return custom.listClusterCustomObject({ ...crd, plural: kind.plural, ...selector });
    if (namespace) return custom.listNamespacedCustomObject({ ...crd, namespace, plural: kind.plural, ...selector });
    return custom.listCustomObjectForAllNamespaces({ ...crd, resourcePlural: kind.plural, ...selector });
  }

  /** client-node stops an informer on a watch error; start it again after a pause. */
  #restart(informer: Informer<KubernetesObject>, err: unknown, namespace: string | undefined): void {
    if (this.#stopped) return;
    this.#opts.log.warn({ resource: this.#opts.kind.plural, namespace, err: describeKubeError(err) }, 'watch failed; restarting');
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) void informer.start().catch(() => {});
    }, this.#opts.restartDelayMs ?? 1000);
    this.#timers.add(timer);
  }

  #apply(type: CacheEventType, raw: KubernetesObject): void {
    const key = keyOf(raw);
    let obj: T | undefined;
    if (type === 'delete') {
      obj = this.#items.get(key);
      this.#items.delete(key);
      if (obj === undefined) return;
    } else {
      dropManagedFields(raw);
      const parsed = this.#opts.kind.schema.safeParse(raw);
      // ListWatch keeps `raw` to compare versions; the typed cache below is the one copy in use.
      skeletonize(raw);
      if (!parsed.success) {
        this.#opts.log.warn({ resource: this.#opts.kind.plural, key, issues: parsed.error.issues.slice(0, 3) }, 'object does not match the schema; ignored');
        return;
      }
      obj = parsed.data;
      this.#items.set(key, obj);
    }
    for (const h of this.#handlers) {
      try {
        h(type, key, obj);
      } catch (err) {
        this.#opts.log.error({ resource: this.#opts.kind.plural, key, err }, 'informer handler threw');
      }
    }
  }
}
