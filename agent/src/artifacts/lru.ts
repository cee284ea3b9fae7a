// Which cached artifacts to evict: least recently used first, never one that is pinned
// (loaded by a running session). Pure bookkeeping; the store does the file operations.

export interface CacheEntry {
  sha256: string;
  bytes: number;
  lastUsedMs: number;
  pins: number;
}

export interface EvictionPlan {
  evict: string[];
  /** False when even evicting every unpinned entry would not make room. */
  fits: boolean;
}

export function planEviction(entries: Iterable<CacheEntry>, maxBytes: number, needBytes: number, reservedBytes = 0): EvictionPlan {
  const all = [...entries];
  let used = all.reduce((s, e) => s + e.bytes, reservedBytes);
  const evict: string[] = [];
  const candidates = all.filter((e) => e.pins === 0).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  for (const e of candidates) {
    if (used + needBytes <= maxBytes) break;
    evict.push(e.sha256);
    used -= e.bytes;
  }
  return { evict, fits: used + needBytes <= maxBytes };
}
