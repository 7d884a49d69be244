// The consistent-hash ring: virtual nodes of every shard on a 32-bit circle, a key owned by the
// first point at or after its hash. Pure data, no I/O; the hash is injectable so tests can check
// the owner table by hand.
import { einval } from './errors.js';
import type { HashFn } from './hash.js';

interface Member {
  id: number;
  name: string;
}

/** A consistent-hash ring with virtual nodes and an epoch that increases on every change. */
export class HashRing {
  readonly virtualNodes: number;
  #hash: HashFn;
  #members = new Map<number, Member>();
  /** Sorted point hashes; `#owners[i]` is the shard id of `#points[i]`. Ties sort by shard id. */
  #points = new Uint32Array(0);
  #owners = new Int32Array(0);
  /**
   * Owner of every 2^16-wide slice of the circle that holds no point, so most lookups are one
   * array read; -2 marks a slice with points in it (binary search). Rebuilt with the points.
   */
  #sliceOwner = new Int32Array(1 << 16).fill(-1);
  #epoch = 0;

  constructor(options: { virtualNodes: number; hash: HashFn }) {
    if (!Number.isSafeInteger(options.virtualNodes) || options.virtualNodes < 1 || options.virtualNodes > 65536) {
      throw einval('virtualNodes must be an integer from 1 to 65536');
    }
    this.virtualNodes = options.virtualNodes;
    this.#hash = options.hash;
  }

  /** Increases by one on every add and remove. */
  get epoch(): number {
    return this.#epoch;
  }

  get size(): number {
    return this.#members.size;
  }

  /** Shard ids on the ring, ascending. */
  shardIds(): number[] {
    return [...this.#members.keys()].sort((a, b) => a - b);
  }

  has(id: number): boolean {
    return this.#members.has(id);
  }

  nameOf(id: number): string | undefined {
    return this.#members.get(id)?.name;
  }

  /** An independent copy (same members, points and epoch), to prepare the next ring on. */
  clone(): HashRing {
    const copy = new HashRing({ virtualNodes: this.virtualNodes, hash: this.#hash });
    for (const [id, m] of this.#members) copy.#members.set(id, { ...m });
    copy.#points = this.#points.slice();
    copy.#owners = this.#owners.slice();
    copy.#sliceOwner = this.#sliceOwner.slice();
    copy.#epoch = this.#epoch;
    return copy;
  }

  /** The sorted point hashes (a copy). */
  points(): Uint32Array {
    return this.#points.slice();
  }

  /** Places a shard's virtual nodes, named `${name}#${i}`, on the ring. */
  add(id: number, name: string): void {
    if (this.#members.has(id)) throw einval(`shard ${id} is already on the ring`);
    this.#members.set(id, { id, name });
    this.#rebuild();
  }

  /** Takes a shard's virtual nodes off the ring. */
  remove(id: number): void {
    if (!this.#members.delete(id)) throw einval(`shard ${id} is not on the ring`);
    this.#rebuild();
  }

  /** The shard owning a key hash; -1 on an empty ring. */
  ownerOf(keyHash: number): number {
    const fast = this.#sliceOwner[keyHash >>> 16]!;
    return fast === -2 ? this.#search(keyHash) : fast;
  }

  #search(keyHash: number): number {
    const points = this.#points;
    const n = points.length;
    if (n === 0) return -1;
    // First point >= keyHash (binary search), wrapping past the top of the circle.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < keyHash) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo === n ? 0 : lo]!;
  }

  /** The first `count` distinct shards clockwise from a key hash: its owner, then its replicas. */
  preferenceList(keyHash: number, count: number): number[] {
    const out: number[] = [];
    const n = this.#points.length;
    if (n === 0) return out;
    const want = Math.min(count, this.#members.size);
    let i = 0;
    let hi = n;
    while (i < hi) {
      const mid = (i + hi) >>> 1;
      if (this.#points[mid]! < keyHash) i = mid + 1;
      else hi = mid;
    }
    for (let seen = 0; seen < n && out.length < want; seen++, i++) {
      const owner = this.#owners[i % n]!;
      if (!out.includes(owner)) out.push(owner);
    }
    return out;
  }

  /** A fingerprint of the placement (points and owners), equal across processes for equal rings. */
  checksum(): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.#points.length; i++) {
      h = Math.imul(h ^ this.#points[i]!, 0x01000193) >>> 0;
      h = Math.imul(h ^ this.#owners[i]!, 0x01000193) >>> 0;
    }
    return h;
  }

  #rebuild(): void {
    const total = this.#members.size * this.virtualNodes;
    const pairs: { h: number; id: number }[] = new Array(total);
    let k = 0;
    for (const m of this.#members.values()) {
      for (let v = 0; v < this.virtualNodes; v++) pairs[k++] = { h: this.#hash(`${m.name}#${v}`) >>> 0, id: m.id };
    }
    pairs.sort((a, b) => a.h - b.h || a.id - b.id);
    this.#points = new Uint32Array(total);
    this.#owners = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      this.#points[i] = pairs[i]!.h;
      this.#owners[i] = pairs[i]!.id;
    }
    // Walk the slices from the top of the circle down, carrying the owner of the next point.
    const slices = this.#sliceOwner;
    let next = total - 1;
    let carry = total === 0 ? -1 : this.#owners[0]!; // past the last point: wrap to the first
    for (let slice = slices.length - 1; slice >= 0; slice--) {
      const lo = slice * 65536;
      let inside = false;
      while (next >= 0 && this.#points[next]! >= lo) {
        inside = true;
        carry = this.#owners[next]!;
        next--;
      }
      slices[slice] = inside ? -2 : carry;
    }
    this.#epoch++;
  }
}
