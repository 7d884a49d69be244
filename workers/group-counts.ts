// A shard's key counts per replica set (replicas ≥ 2), kept as keys come and go: what lets the
// coordinator say exactly how many keys lost every copy when shards die. It never sees key names.
import type { GroupTable } from '../src/protocol.js';

/** Keys per replica set of one shard, by the coordinator's GroupTable. */
export class GroupCounts {
  #table: GroupTable;
  #counts: Int32Array;
  /** Changed since the last take(). */
  #dirty = true;

  constructor(table: GroupTable) {
    this.#table = table;
    this.#counts = new Int32Array(table.size);
  }

  /** The set of a key hash: the last run starting at or before it. */
  #group(hash: number): number {
    const los = this.#table.los;
    let lo = 0;
    let hi = los.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (los[mid]! <= hash) lo = mid;
      else hi = mid - 1;
    }
    return this.#table.groups[lo] ?? -1;
  }

  add(hash: number): void {
    const g = this.#group(hash);
    if (g < 0) return;
    this.#counts[g]!++;
    this.#dirty = true;
  }

  remove(hash: number): void {
    const g = this.#group(hash);
    if (g < 0) return;
    this.#counts[g]!--;
    this.#dirty = true;
  }

  /** Every key gone (FLUSHALL). */
  clear(): void {
    this.#counts.fill(0);
    this.#dirty = true;
  }

  /** A new table (the ring changed): `each` calls its argument with the hash of every key held. */
  reset(table: GroupTable, each: (fn: (key: string, hash: number) => void) => void): void {
    this.#table = table;
    this.#counts = new Int32Array(table.size);
    each((_, hash) => this.add(hash));
    this.#dirty = true;
  }

  /** `[version, ...counts]` if they changed since the last call, else undefined. */
  take(): number[] | undefined {
    if (!this.#dirty) return undefined;
    this.#dirty = false;
    return [this.#table.version, ...this.#counts];
  }
}
