// The source side of a live migration inside one shard: which of its keys fall in the hash
// ranges that are moving, and exporting / dropping them range by range. Plain module (tests
// import it); the coordinator decides the ranges and the order (src/migration.ts).
import { fingerprint32 } from '../src/hash.js';
import { hashInternal } from '../src/keys.js';
import type { ShardStore } from './store.js';

export class MigrationSource {
  #store: ShardStore;
  /** Sorted, non-overlapping inclusive hash ranges: [lo0, hi0, lo1, hi1, ...]. */
  #ranges: number[] = [];
  /** Keys per range, collected at plan time and from inserts since. May hold deleted keys. */
  #buckets: string[][] = [];

  constructor(store: ShardStore) {
    this.#store = store;
  }

  get active(): boolean {
    return this.#buckets.length > 0;
  }

  /** Opens a plan: buckets every live key in a moving range, and records inserts from now on. Returns keys per range. */
  plan(ranges: number[]): number[] {
    this.#ranges = ranges;
    this.#buckets = Array.from({ length: ranges.length / 2 }, () => []);
    this.#bucket(this.#store.keys('*'));
    this.#store.logInserts(true);
    return this.#buckets.map((b) => b.length);
  }

  /** The live entries of range `idx`, flat: [key, value, expireAt, ...]. Empty without a plan. */
  export(idx: number): unknown[] {
    this.#bucket(this.#store.takeInserted());
    const out: unknown[] = [];
    for (const key of this.#buckets[idx] ?? []) {
      const e = this.#store.entry(key);
      if (e !== null) out.push(key, e[0], e[1]);
    }
    return out;
  }

  /** Deletes range `idx`'s keys here (after the new owner confirmed them). Returns how many. */
  drop(idx: number): number {
    this.#bucket(this.#store.takeInserted());
    const n = this.#store.del(this.#buckets[idx] ?? []);
    if (idx < this.#buckets.length) this.#buckets[idx] = [];
    return n;
  }

  /** Live entries with a hash in [lo, hi], found by scanning every key (no plan needed). */
  exportRange(lo: number, hi: number): unknown[] {
    const out: unknown[] = [];
    for (const key of this.#inRange(lo, hi)) {
      const e = this.#store.entry(key);
      if (e !== null) out.push(key, e[0], e[1]);
    }
    return out;
  }

  /** Deletes every key with a hash in [lo, hi]. */
  dropRange(lo: number, hi: number): number {
    return this.#store.del(this.#inRange(lo, hi));
  }

  #inRange(lo: number, hi: number): string[] {
    return this.#store.keys('*').filter((key) => {
      const h = hashInternal(fingerprint32, key);
      return h >= lo && h <= hi;
    });
  }

  end(): void {
    this.#ranges = [];
    this.#buckets = [];
    this.#store.logInserts(false);
  }

  #bucket(keys: string[]): void {
    if (this.#buckets.length === 0) return;
    for (const key of keys) {
      const idx = this.#rangeOf(hashInternal(fingerprint32, key));
      if (idx >= 0) this.#buckets[idx]!.push(key);
    }
  }

  /** Index of the range holding hash h, or -1. */
  #rangeOf(h: number): number {
    const r = this.#ranges;
    let lo = 0;
    let hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (r[mid * 2]! > h) hi = mid - 1;
      else if (r[mid * 2 + 1]! < h) lo = mid + 1;
      else return mid;
    }
    return -1;
  }
}

/** Applies migrated entries ([key, value, expireAt, ...]) to a store. */
export function importEntries(store: ShardStore, entries: unknown[]): number {
  for (let i = 0; i < entries.length; i += 3) {
    store.importEntry(entries[i] as string, entries[i + 1] as string | Uint8Array, entries[i + 2] as number);
  }
  return entries.length / 3;
}
