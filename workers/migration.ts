// The source side of a live migration inside one shard: which of its keys fall in the hash
// ranges that are moving, and exporting / dropping them range by range. Plain module (tests
// import it); the coordinator decides the ranges and the order (src/migration.ts). What walks
// every key runs as a Walk (workers/walks.ts), in bounded steps.
import { DONE, decodeEntries, encodeEntries } from './entries.js';
import type { ShardStore } from './store.js';
import { WALK_STEP, type Walk, runToEnd } from './walks.js';

export class MigrationSource {
  #store: ShardStore;
  /** Sorted, non-overlapping inclusive hash ranges: [lo0, hi0, lo1, hi1, ...]. */
  #ranges: number[] = [];
  /** Keys per range, collected at plan time and from inserts since. May hold deleted keys. */
  #buckets: string[][] = [];
  /**
   * Keys exported in an earlier batch (the new owner holds them now), and in the current one (the
   * batch's earlier writes are still this shard's to report).
   */
  #exported = new Set<string>();
  #exportedNow: string[] = [];

  constructor(store: ShardStore) {
    this.#store = store;
  }

  get active(): boolean {
    return this.#buckets.length > 0;
  }

  /** Opens a plan: buckets every live key in a moving range, and records inserts from now on. Returns keys per range. */
  plan(ranges: number[]): number[] {
    return runToEnd(this.planWalk(ranges));
  }

  /** plan() in steps. */
  *planWalk(ranges: number[]): Walk<number[]> {
    this.#ranges = ranges;
    const buckets: string[][] = Array.from({ length: ranges.length / 2 }, () => []);
    this.#buckets = buckets;
    const bucket = (hash: number, slot: number): void => {
      const idx = this.#rangeOf(hash);
      if (idx >= 0) buckets[idx]!.push(this.#store.keyAt(slot));
    };
    const top = this.#store.slots;
    for (let from = 0; from < top; from += WALK_STEP) {
      this.#store.eachKey(bucket, from, from + WALK_STEP);
      yield;
    }
    this.#store.logInserts(true);
    return buckets.map((b) => b.length);
  }

  /**
   * One chunk of range `idx`: the live entries among its keys [offset, offset + limit), encoded
   * for transfer (workers/entries.ts) with where the next chunk starts. Empty without a plan.
   * Chunks keep each op short, so ops queued behind it on this shard wait little.
   */
  export(idx: number, offset = 0, limit = Infinity, maxBytes = Infinity): ArrayBuffer {
    this.#bucket(this.#store.takeInserted());
    const keys = this.#buckets[idx] ?? [];
    const end = Math.min(keys.length, offset + limit);
    const out: unknown[] = [];
    let bytes = 0;
    let i = offset;
    // Whichever comes first: `limit` entries or `maxBytes` of values (at least one entry).
    for (; i < end && (bytes < maxBytes || i === offset); i++) {
      const e = this.#store.entry(keys[i]!);
      if (e === null) continue;
      out.push(keys[i], e[0], e[1]);
      this.#exportedNow.push(keys[i]!);
      bytes += typeof e[0] === 'string' ? e[0].length * 2 : e[0].byteLength;
    }
    return encodeEntries(out, i < keys.length ? i : DONE);
  }

  /**
   * Deletes up to `limit` of range `idx`'s keys here (after the new owner confirmed them).
   * Returns how many of its keys are left to drop.
   */
  drop(idx: number, limit = Infinity): number {
    this.#bucket(this.#store.takeInserted());
    const keys = this.#buckets[idx] ?? [];
    const n = Math.min(limit, keys.length);
    this.#store.del(keys.splice(keys.length - n, n));
    return keys.length;
  }

  /** Live entries with a hash in [lo, hi], found by scanning every key (no plan needed), encoded. */
  exportRange(lo: number, hi: number): ArrayBuffer {
    return runToEnd(this.exportRangeWalk(lo, hi));
  }

  /** exportRange() in steps (the encoding of what it found is one step: one range's share). */
  *exportRangeWalk(lo: number, hi: number): Walk<ArrayBuffer> {
    const keys = yield* this.#inRange(lo, hi);
    const out: unknown[] = [];
    for (let i = 0; i < keys.length; i++) {
      const e = this.#store.entry(keys[i]!);
      if (e !== null) out.push(keys[i], e[0], e[1]);
      if (i % WALK_STEP === WALK_STEP - 1) yield;
    }
    return encodeEntries(out);
  }

  /** Deletes every key with a hash in [lo, hi]. */
  dropRange(lo: number, hi: number): number {
    return runToEnd(this.dropRangeWalk(lo, hi));
  }

  /** dropRange() in steps. */
  *dropRangeWalk(lo: number, hi: number): Walk<number> {
    const keys = yield* this.#inRange(lo, hi);
    let n = 0;
    for (let i = 0; i < keys.length; i += WALK_STEP) {
      n += this.#store.del(keys.slice(i, i + WALK_STEP));
      yield;
    }
    return n;
  }

  /** Drops range `idx`'s keys here (a refill's first chunk), WALK_STEP keys a step. */
  *dropWalk(idx: number): Walk<number> {
    while (this.drop(idx, WALK_STEP) > 0) yield;
    return 0;
  }

  *#inRange(lo: number, hi: number): Walk<string[]> {
    const out: string[] = [];
    const pick = (hash: number, slot: number): void => {
      if (hash >= lo && hash <= hi) out.push(this.#store.keyAt(slot));
    };
    const top = this.#store.slots;
    for (let from = 0; from < top; from += WALK_STEP) {
      this.#store.eachKey(pick, from, from + WALK_STEP);
      yield;
    }
    return out;
  }

  end(): void {
    this.#ranges = [];
    this.#buckets = [];
    this.#exported.clear();
    this.#exportedNow = [];
    this.#store.logInserts(false);
  }

  /**
   * Whether `key` was exported (in an earlier batch). No write reaches this shard for it any more
   * (the coordinator holds them, then sends them to the new owner); what still changes it here —
   * expiry, eviction — is the new owner's to report, since it holds the key with the same expiry
   * and maybe a newer value (replication must not hear a DEL from here after the new owner's SET).
   * A key of a moving range not exported yet is still this shard's: its removal is reported.
   */
  handedOver(key: string): boolean {
    return this.#exported.has(key);
  }

  /** After a batch's effects are taken: the keys it exported count from the next batch on. */
  settleExports(): void {
    for (const k of this.#exportedNow) this.#exported.add(k);
    this.#exportedNow = [];
  }

  #bucket(keys: string[]): void {
    if (this.#buckets.length === 0) return;
    for (const key of keys) {
      const hash = this.#store.hashOf(key);
      const idx = hash < 0 ? -1 : this.#rangeOf(hash);
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

/** Applies migrated entries (a buffer from export()) to a store. */
export function importEntries(store: ShardStore, entries: ArrayBuffer): number {
  return decodeEntries(entries, (key, value, at) => store.importEntry(key, value, at));
}
