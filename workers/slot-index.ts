// key → slot index that holds more than one V8 Map can: a Map throws RangeError past 2^24
// entries, so beyond `limit` keys the index spreads over several Maps. With one Map (every
// shard below ~16M keys) a lookup is one Map.get.

/** Keys per Map by default: just under V8's 2^24 hard cap. */
export const DEFAULT_MAP_LIMIT = 2 ** 24 - 1;

export class SlotIndex {
  readonly limit: number;
  #maps: Map<string, number>[] = [new Map()];
  #size = 0;

  constructor(limit = DEFAULT_MAP_LIMIT) {
    this.limit = limit;
  }

  get size(): number {
    return this.#size;
  }

  /** How many Maps back the index (1 until a Map fills up). */
  get maps(): number {
    return this.#maps.length;
  }

  get(key: string): number | undefined {
    const maps = this.#maps;
    const first = maps[0]!.get(key);
    if (first !== undefined || maps.length === 1) return first;
    for (let i = 1; i < maps.length; i++) {
      const slot = maps[i]!.get(key);
      if (slot !== undefined) return slot;
    }
    return undefined;
  }

  /** Adds a key that is not in the index. */
  set(key: string, slot: number): void {
    let target = this.#maps[0]!;
    if (target.size >= this.limit) {
      target = this.#maps.find((m) => m.size < this.limit) ?? new Map();
      if (!this.#maps.includes(target)) this.#maps.push(target);
    }
    target.set(key, slot);
    this.#size++;
  }

  delete(key: string): boolean {
    for (const m of this.#maps) {
      if (m.delete(key)) {
        this.#size--;
        return true;
      }
    }
    return false;
  }

  clear(): void {
    this.#maps = [new Map()];
    this.#size = 0;
  }
}
