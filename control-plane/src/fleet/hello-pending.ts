// Hellos accepted whose EdgeNode is not written yet, kept in Redis: a new node is answered as
// soon as it is admitted, so if the leader dies (or loses the Lease) before the write, the next
// leader must finish it, or the agent would heartbeat for a node Kubernetes never hears of.
import { decode, Hello, type Hello as HelloT } from '@edgeplane/api';
import type { Redis } from 'ioredis';

export const PENDING_HELLOS_KEY = 'ep:hellos:pending';

export interface PendingHello {
  hello: HelloT;
  /** When it was admitted, ms since the epoch; tells a node's later hello from this one. */
  atMs: number;
}

/** Deletes the field only while it still holds this hello (its admission time), never a later one. */
const REMOVE_IF_SAME = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local ok, p = pcall(cjson.decode, v)
if ok and type(p) == 'table' and p.atMs == tonumber(ARGV[2]) then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

export class PendingHellos {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async add(p: PendingHello): Promise<void> {
    await this.#redis.hset(PENDING_HELLOS_KEY, p.hello.node, encodePending(p));
  }

  /** Done: its EdgeNode is written (or a later hello of the node replaced it). */
  async remove(p: PendingHello): Promise<void> {
    await this.#redis.eval(REMOVE_IF_SAME, 1, PENDING_HELLOS_KEY, p.hello.node, String(p.atMs));
  }

  /** Every pending hello; an unreadable entry (a damaged or foreign value) is dropped. */
  async all(): Promise<{ pending: PendingHello[]; dropped: string[] }> {
    const raw = await this.#redis.hgetall(PENDING_HELLOS_KEY);
    const pending: PendingHello[] = [];
    const dropped: string[] = [];
    for (const [node, value] of Object.entries(raw)) {
      const p = decodePending(value);
      if (p && p.hello.node === node) pending.push(p);
      else dropped.push(node);
    }
    if (dropped.length) await this.#redis.hdel(PENDING_HELLOS_KEY, ...dropped);
    return { pending, dropped };
  }
}

export function encodePending(p: PendingHello): string {
  return JSON.stringify({ atMs: p.atMs, hello: p.hello });
}

export function decodePending(value: string): PendingHello | null {
  try {
    const parsed = JSON.parse(value) as { atMs?: unknown; hello?: unknown };
    if (typeof parsed.atMs !== 'number' || !Number.isFinite(parsed.atMs)) return null;
    const hello = decode(Hello, 'pending hello', new TextEncoder().encode(JSON.stringify(parsed.hello)));
    return hello.ok ? { atMs: parsed.atMs, hello: hello.value } : null;
  } catch {
    return null;
  }
}
