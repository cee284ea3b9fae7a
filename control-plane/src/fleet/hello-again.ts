// Heartbeats from a node the control plane never admitted (its hello or the reply was lost, a
// control plane restarted meanwhile, its EdgeNode was removed) are dropped; the agent has no
// way to know. So whichever replica drops one asks that node to say hello again, paced: at most
// once per node every `perNodeMs`, at most `perSecond` in all, and a bounded number of nodes
// remembered (the least recently asked forgotten first, which at worst asks one again early).
import { encode, NodeCommand, PROTOCOL_VERSION } from '@edgeplane/api';
import { KeyedRateLimit } from './rate-limit.ts';

export interface HelloAgainOptions {
  /** Publishes the command on the node's command subject. */
  send(node: string, data: Uint8Array): void;
  /** A node is asked at most once per this long, ms. */
  perNodeMs: number;
  /** Asks in all per second at most; default HELLO_AGAIN_PER_SECOND. */
  perSecond?: number;
  /** Nodes whose last ask is remembered at most; default HELLO_AGAIN_TRACKED_NODES. */
  maxNodes?: number;
}

/** Each ask costs the leader a hello (a Redis write, maybe a Kubernetes one): a fleet-wide cap. */
export const HELLO_AGAIN_PER_SECOND = 100;
export const HELLO_AGAIN_TRACKED_NODES = 100_000;

const HELLO_COMMAND = encode(NodeCommand, 'node command', { v: PROTOCOL_VERSION, op: 'hello' });

export class HelloAgain {
  readonly #send: HelloAgainOptions['send'];
  readonly #perNode: KeyedRateLimit;
  readonly #all: KeyedRateLimit;
  #asked = 0;
  #limited = 0;

  constructor(o: HelloAgainOptions) {
    const perSecond = o.perSecond ?? HELLO_AGAIN_PER_SECOND;
    this.#send = o.send;
    this.#perNode = new KeyedRateLimit({ burst: 1, refillMs: o.perNodeMs, maxKeys: o.maxNodes ?? HELLO_AGAIN_TRACKED_NODES });
    this.#all = new KeyedRateLimit({ burst: perSecond, refillMs: 1000 / perSecond, maxKeys: 1 });
  }

  /** A heartbeat of `node` was dropped as unknown: asks it for a hello unless paced; true when asked. */
  unknownHeartbeat(node: string, nowMs: number): boolean {
    // The per-node check first: a node already asked spends nothing of the fleet-wide budget.
    if (!this.#perNode.take(node, nowMs) || !this.#all.take('', nowMs)) {
      this.#limited++;
      return false;
    }
    this.#asked++;
    this.#send(node, HELLO_COMMAND);
    return true;
  }

  /** Asks sent and held back so far. */
  counts(): { asked: number; limited: number } {
    return { asked: this.#asked, limited: this.#limited };
  }

  /** Nodes remembered now (bounded by maxNodes). */
  get tracked(): number {
    return this.#perNode.size;
  }
}
