// The three Lease calls of leader election, each with a timeout that aborts the request: a call
// that hangs must not keep a leader believing it still holds the Lease.
import { Observable, type CoordinationV1Api, type ObservableMiddleware, type RequestContext, type ResponseContext, type V1Lease } from '@kubernetes/client-node';
import { LeaseTimeoutError } from '../errors.ts';

export interface LeaseRef {
  name: string;
  namespace: string;
}

/** Options that make client-node send the request with this abort signal. */
function withSignal(signal: AbortSignal): { middleware: ObservableMiddleware[]; middlewareMergeStrategy: 'append' } {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          return new Observable(Promise.resolve(ctx));
        },
        post: (rsp: ResponseContext) => new Observable(Promise.resolve(rsp)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/** Runs one call with an aborting timeout; a timeout rejects with LeaseTimeoutError. */
async function bounded<T>(call: string, timeoutMs: number, fn: (options: ReturnType<typeof withSignal>) => Promise<T>): Promise<T> {
  const ms = Math.max(1, Math.floor(timeoutMs));
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new LeaseTimeoutError(call, ms));
    }, ms);
  });
  try {
    // The race also covers a transport that ignores the signal.
    return await Promise.race([fn(withSignal(abort.signal)), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export class LeaseClient {
  readonly #api: CoordinationV1Api;
  readonly #ref: LeaseRef;

  constructor(api: CoordinationV1Api, ref: LeaseRef) {
    this.#api = api;
    this.#ref = ref;
  }

  read(timeoutMs: number): Promise<V1Lease> {
    return bounded('read Lease', timeoutMs, (o) => this.#api.readNamespacedLease(this.#ref, o));
  }

  create(body: V1Lease, timeoutMs: number): Promise<V1Lease> {
    return bounded('create Lease', timeoutMs, (o) => this.#api.createNamespacedLease({ namespace: this.#ref.namespace, body }, o));
  }

  replace(body: V1Lease, timeoutMs: number): Promise<V1Lease> {
    return bounded('update Lease', timeoutMs, (o) => this.#api.replaceNamespacedLease({ ...this.#ref, body }, o));
  }
}
