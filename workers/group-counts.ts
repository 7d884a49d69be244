// A shard's key counts per replica set (replicas ≥ 2), kept as keys come and go: what lets the
// coordinator say exactly how many keys lost every copy when shards die. It never sees key names.
import type { GroupTable } from '../src/protocol.js';

/** Hash bits that pick a bucket of the lookup index (4096 buckets: a run or two each). */
const BUCKET_SHIFT = 20;
const BUCKETS = 2 ** (32 - BUCKET_SHIFT);

/** Keys per replica set of one shard, by the coordinator's GroupTable. */
export class GroupCounts {
  #los: Uint32Array;
  #groups: Int32Array;
  #version: number;
  /** Per bucket of the hash space, the run its first hash falls in (so a lookup scans a run or two). */
  #first = new Uint32Array(BUCKETS + 1);
  #counts: Int32Array;
  /** Changed since the last take(). */
  #dirty = true;

  constructor(table: GroupTable) {
    this.#los = table.los;
    this.#groups = table.groups;
    this.#version = table.version;
    this.#counts = new Int32Array(table.size);
    this.#index();
  }

  #index(): void {
    const los = this.#los;
    let run = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const start = b * 2 ** BUCKET_SHIFT;
      while (run + 1 < los.length && los[run + 1]! <= start) run++;
      this.#first[b] = run;
    }
    this.#first[BUCKETS] = los.length - 1;
  }

  /** The set of a key hash: the last run starting at or before it. */
  #group(hash: number): number {
    const los = this.#los;
    const b = hash >>> BUCKET_SHIFT;
    let i = this.#first[b]!;
    const end = this.#first[b + 1]!;
    while (i < end && los[i + 1]! <= hash) i++;
    return this.#groups[i] ?? -1;
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

  /** A new table (the ring changed) with every count at zero: the caller adds the shard's keys back (add). */
  reset(table: GroupTable): void {
    this.#los = table.los;
    this.#groups = table.groups;
    this.#version = table.version;
    this.#counts = new Int32Array(table.size);
    this.#index();
    this.#dirty = true;
  }
  /** `[version, ...counts]` if they changed since the last call, else undefined. */
  take(): number[] | undefined {
    if (!this.#dirty) return undefined;
    this.#dirty = false;
    return [this.#version, ...this.#counts];
  }
}
