// key → slot index of a shard. A small shard's index is one V8 Map (a lookup is one Map.get);
// past SPLIT_AT keys it spreads over PARTS Maps chosen by a hash of the key, so no single Map
// grows big: a Map rehashes all its entries at once when it doubles (measured 0.4–1.4 s at 2^21
// and 2^22 entries on a busy 2-core machine, long enough for the watchdog to kill the shard), and
// V8 caps a Map at 2^24 entries. It never holds a key twice.

/** Keys per Map before another Map takes the overflow: just under V8's 2^24 hard cap. */
export const DEFAULT_MAP_LIMIT = 2 ** 24 - 1;
/** Keys at which one Map becomes PARTS Maps (moving them costs ~25 ms, once). */
export const SPLIT_AT = 2 ** 17;
/** Maps of a split index: each rehash moves 1/PARTS of the keys. A power of two. */
export const PARTS = 64;

/**
 * Which of PARTS Maps holds a key: a multiplicative hash of all its characters, so keys that
 * differ anywhere, as counters and ids do, spread evenly. About as much work as V8's own hashing
 * of the key for the Map lookup that follows (a sample of the characters would miss keys that
 * differ only between two samples).
 */
export function partOf(key: string): number {
  const n = key.length;
  let h = n | 0;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) & (PARTS - 1);
}

/** Maps of one part: a lookup tries them in turn (a second Map only past `limit` keys). */
class Part {
  maps: Map<string, number>[] = [new Map()];

  get(key: string): number | undefined {
    const maps = this.maps;
    const first = maps[0]!.get(key);
    if (first !== undefined || maps.length === 1) return first;
    for (let i = 1; i < maps.length; i++) {
      const slot = maps[i]!.get(key);
      if (slot !== undefined) return slot;
    }
    return undefined;
  }

  set(key: string, slot: number, limit: number): void {
    let target = this.maps[0]!;
    if (target.size >= limit) {
      target = this.maps.find((m) => m.size < limit) ?? new Map();
      if (!this.maps.includes(target)) this.maps.push(target);
    }
    target.set(key, slot);
  }

  delete(key: string): boolean {
    for (const m of this.maps) if (m.delete(key)) return true;
    return false;
  }
}

export class SlotIndex {
  readonly limit: number;
  readonly #splitAt: number;
  /** One part until the index splits, then PARTS. */
  #parts: Part[] = [new Part()];
  #size = 0;

  /** `limit`: keys per Map; `splitAt`: keys at which the index splits (tests make both small). */
  constructor(limit = DEFAULT_MAP_LIMIT, splitAt = SPLIT_AT) {
    this.limit = limit;
    this.#splitAt = splitAt;
  }

  get size(): number {
    return this.#size;
  }

  /** How many Maps back the index. */
  get maps(): number {
    return this.#parts.reduce((n, p) => n + p.maps.length, 0);
  }

  #part(key: string): Part {
    const parts = this.#parts;
    return parts.length === 1 ? parts[0]! : parts[partOf(key)]!;
  }

  get(key: string): number | undefined {
    return this.#part(key).get(key);
  }

  /** Adds a key that is not in the index. */
  set(key: string, slot: number): void {
    if (this.#parts.length === 1 && this.#size >= this.#splitAt) this.#split();
    this.#part(key).set(key, slot, this.limit);
    this.#size++;
  }

  delete(key: string): boolean {
    if (!this.#part(key).delete(key)) return false;
    this.#size--;
    return true;
  }

  clear(): void {
    this.#parts = [new Part()];
    this.#size = 0;
  }

  /** One part becomes PARTS: every key moves once, to the part its hash names. */
  #split(): void {
    const old = this.#parts[0]!;
    const parts = Array.from({ length: PARTS }, () => new Part());
    for (const m of old.maps) for (const [key, slot] of m) parts[partOf(key)]!.set(key, slot, this.limit);
    this.#parts = parts;
  }
}
