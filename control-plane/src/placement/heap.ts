// Indexed binary max-heaps over small integer items, many heaps in one pair of typed arrays:
// item i lives in segment segOf[i], and each segment is its own heap. Positions are tracked so
// an item can be re-keyed or removed in O(log n) without searching. Items are ordered by a key
// and a tie-break read from arrays the owner writes, not by a comparison function: every heap
// then runs the same code with no call per comparison.

export class SegmentedHeap {
  private readonly heap: Int32Array;
  private readonly pos: Int32Array;
  private readonly start: Int32Array;
  private readonly size: Int32Array;
  private readonly segOf: Int32Array;
  private readonly key: Float64Array;
  private readonly tie: Int32Array;

  /**
   * Item a sits above item b when key[a] > key[b], or the keys are equal and tie[a] < tie[b].
   * The owner changes an item's key or tie only while the item is out of the heap or right
   * before update().
   */
  constructor(segOf: Int32Array, segments: number, key: Float64Array, tie: Int32Array) {
    this.segOf = segOf;
    this.key = key;
    this.tie = tie;
    this.heap = new Int32Array(segOf.length);
    this.pos = new Int32Array(segOf.length).fill(-1);
    this.start = new Int32Array(segments + 1);
    this.size = new Int32Array(segments);
    for (let i = 0; i < segOf.length; i++) this.start[segOf[i]! + 1]!++;
    for (let s = 0; s < segments; s++) this.start[s + 1]! += this.start[s]!;
  }

  /** Empties every segment. */
  clear(): void {
    this.size.fill(0);
    this.pos.fill(-1);
  }

  has(item: number): boolean {
    return this.pos[item]! >= 0;
  }

  /** Highest item of a segment, or -1 when it is empty. */
  top(segment: number): number {
    return this.size[segment]! > 0 ? this.heap[this.start[segment]!]! : -1;
  }

  insert(item: number): void {
    const s = this.segOf[item]!;
    const at = this.start[s]! + this.size[s]!;
    this.size[s]!++;
    this.heap[at] = item;
    this.pos[item] = at;
    this.up(s, at);
  }

  remove(item: number): void {
    const at = this.pos[item]!;
    if (at < 0) return;
    const s = this.segOf[item]!;
    const last = this.start[s]! + this.size[s]! - 1;
    this.size[s]!--;
    this.pos[item] = -1;
    if (at === last) return;
    const moved = this.heap[last]!;
    this.heap[at] = moved;
    this.pos[moved] = at;
    this.up(s, at);
    this.down(s, this.pos[moved]!);
  }

  /**
   * Adds an item without ordering its segment: after a run of pushes, heapify() orders every
   * segment in linear time, cheaper than inserting one by one.
   */
  push(item: number): void {
    const s = this.segOf[item]!;
    const at = this.start[s]! + this.size[s]!;
    this.size[s]!++;
    this.heap[at] = item;
    this.pos[item] = at;
  }

  /** Orders every segment after push(). */
  heapify(): void {
    for (let s = 0; s < this.size.length; s++) {
      const base = this.start[s]!;
      for (let i = (this.size[s]! >> 1) - 1; i >= 0; i--) this.down(s, base + i);
    }
  }

  /** Restores order after the item's key changed either way. */
  update(item: number): void {
    const at = this.pos[item]!;
    if (at < 0) return;
    const s = this.segOf[item]!;
    this.up(s, at);
    this.down(s, this.pos[item]!);
  }

  /** True when item a must sit above item b. */
  private before(a: number, b: number): boolean {
    const ka = this.key[a]!;
    const kb = this.key[b]!;
    return ka !== kb ? ka > kb : this.tie[a]! < this.tie[b]!;
  }

  private up(s: number, at: number): void {
    const base = this.start[s]!;
    const item = this.heap[at]!;
    let i = at - base;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = this.heap[base + parent]!;
      if (!this.before(item, p)) break;
      this.heap[base + i] = p;
      this.pos[p] = base + i;
      i = parent;
    }
    this.heap[base + i] = item;
    this.pos[item] = base + i;
  }

  private down(s: number, at: number): void {
    const base = this.start[s]!;
    const n = this.size[s]!;
    const item = this.heap[at]!;
    let i = at - base;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.before(this.heap[base + r]!, this.heap[base + l]!)) c = r;
      const child = this.heap[base + c]!;
      if (!this.before(child, item)) break;
      this.heap[base + i] = child;
      this.pos[child] = base + i;
      i = c;
    }
    this.heap[base + i] = item;
    this.pos[item] = base + i;
  }
}
