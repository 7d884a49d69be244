// The storage of one shard: entries, TTLs, LRU order, eviction and memory accounting.
// A plain module with an injected clock, imported directly by tests; it never touches ports.
//
// Keys, values and expiries live in shared memory (workers/table.ts over src/shared/layout.ts),
// where other threads read them in place; this module keeps what only the owner needs, per slot
// in typed arrays (DESIGN §7): LRU links, the dense list of keys with a TTL. Slot numbers are
// stable while a key lives, which is what makes SCAN cursors exact.
// The file is over 400 lines because every command's semantics share the slot machinery; the
// command logic itself is thin.
import { CacheError } from '../src/errors.js';
import { fingerprint32 } from '../src/hash.js';
import { hashInternal } from '../src/keys.js';
import { ExpireFlag, SetFlag, type EvictionPolicy, type MembershipEvent, type ShardStats } from '../src/protocol.js';
import { compileGlob, type Glob, type MatchWork, matchesAll } from '../src/glob.js';
import { BLOCK_HEADER, blockUnits, createShardMemory, LRU_CLOCK_MS, type ShardMemory } from '../src/shared/layout.js';
import type { GroupCounts } from './group-counts.js';
import { growSlotArray, slotArray } from './slot-arrays.js';
import { SharedTable, type Value } from './table.js';

export type { Value } from './table.js';

/**
 * Bytes counted per entry on top of its block in the arena (key, value, 16-byte header, rounded
 * to its size class): its slot (16), its share of the index (8 per bucket at a load of 3/8 to 3/4),
 * and the owner's per-slot arrays (hashes, bucket, LRU links and clock, TTL list: 36).
 */
export const ENTRY_OVERHEAD = 72;
/** #write's `at` for "keep the key's expiry" (a new key gets none). */
const KEEP_TTL = -1;
/** How many access-clock second chances eviction gives before taking the least recently linked key. */
const SECOND_CHANCES = 16;

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const INTEGER_RE = /^-?(?:0|[1-9][0-9]*)$/;

export interface StoreOptions {
  /** Memory limit in estimated bytes; 0 = unlimited. */
  maxBytes?: number;
  /** What to do at maxBytes. Default `noeviction`. */
  policy?: EvictionPolicy;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** The shared memory to keep the entries in (the coordinator makes it; readers get the same). Default: new memory. */
  memory?: ShardMemory;
  /** Starting slot capacity when the store makes its own memory; it doubles as needed. Default 1024. */
  initialCapacity?: number;
}

export interface SetResult {
  applied: boolean;
  /** The previous value, when asked for with the GET flag. */
  old: Value | null;
}

/** The keys, values, TTLs and LRU order of one shard. */
export class ShardStore {
  readonly policy: EvictionPolicy;
  /** Ops counted by the caller (the worker counts every op it applies). */
  ops = 0;
  /**
   * Set while a copy applies a write another copy answered for: memory is not a reason to refuse
   * it (over the limit under noeviction; evicting under an LRU policy).
   */
  forceWrites = false;
  #now: () => number;
  /** The shared index, slots and blocks (keys, values, expiries). */
  readonly table: SharedTable;
  /** The clock's start: the access clock counts LRU_CLOCK_MS units from here. */
  #epoch: number;
  /** LRU list over slots: head is most recent, tail least; -1 ends. Kept only under an LRU policy (noeviction never asks for recency). */
  readonly #lru: boolean;
  #prev: Int32Array;
  #next: Int32Array;
  /** The access clock a slot had when it was last linked at the head: a reader's access since moves it up at eviction. */
  #linked: Int32Array;
  #head = -1;
  #tail = -1;
  /**
   * Dense list of slots that have a TTL, for sampling by the active sweep; `#ttlPos[slot]` is 0
   * or the position + 1. Both made at the first TTL (a shard without TTLs pays nothing for them),
   * like the LRU arrays, which only an LRU policy has.
   */
  #ttlSlots: Int32Array;
  #ttlPos: Int32Array;
  #ttlCount = 0;
  #cap: number;
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #expired = 0;
  #announcements = 0;
  /** Keys inserted while a migration plan is open (null: not recording). */
  #insertLog: string[] | null = null;
  /**
   * Replication (src/replication): the keys whose value, expiry or existence changed since the
   * last takeChanges(), and whether everything was flushed meanwhile; null while not recorded.
   */
  changes: Set<string> | null = null;
  /** FLUSHALLs since the last takeChanges() (each is one of the coordinator's cross-shard barriers). */
  flushed = 0;
  /**
   * While `changes` is suspended for a migration op (its own imports and drops change nothing a
   * replica holds), the keys the store evicts or expires by itself meanwhile, still to report.
   */
  removedMeanwhile: Set<string> | null = null;
  #announcedEpoch = 0;
  /** Keys per replica set (replicas ≥ 2), told of every key stored and removed; null with one copy. */
  groups: GroupCounts | null = null;
  /** The memory budget in estimated bytes (0 = unlimited): this shard's share of maxmemory. */
  #maxBytes: number;

  constructor(options: StoreOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 0;
    this.policy = options.policy ?? 'noeviction';
    this.#now = options.now ?? Date.now;
    this.#epoch = this.#now();
    this.table = new SharedTable(options.memory ?? createShardMemory(Math.max(16, options.initialCapacity ?? 1024)));
    this.#cap = this.table.capacity;
    this.#lru = this.policy !== 'noeviction';
    const lruCap = this.#lru ? this.#cap : 0;
    this.#prev = slotArray(lruCap);
    this.#next = slotArray(lruCap);
    this.#linked = slotArray(lruCap);
    this.#ttlSlots = slotArray(0);
    this.#ttlPos = slotArray(0);
  }

  get size(): number {
    return this.table.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The memory budget in estimated bytes; 0 = unlimited. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /**
   * A new memory budget (the coordinator splits maxmemory again as shards come and go). Below what
   * the shard holds: under an LRU policy trim() evicts down to it a bounded step at a time, and a
   * write meanwhile evicts as much as it adds; under noeviction writes fail with OOM until deletes
   * bring the shard under it.
   */
  setMaxBytes(maxBytes: number): void {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new CacheError('EINVAL', `maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
  }

  /**
   * One bounded step towards the budget under an LRU policy: evicts least recently used entries,
   * at most `maxEvictions`, while the shard holds more than its budget. Returns the evictions.
   */
  trim(maxEvictions = 4096): number {
    if (!this.#lru || this.#maxBytes === 0) return 0;
    let n = 0;
    while (this.#bytes > this.#maxBytes && this.#tail >= 0 && n < maxEvictions) {
      this.#evict(this.#victim(-1));
      n++;
    }
    return n;
  }

  // ---- reads ----------------------------------------------------------------------------------

  get(key: string): Value | null {
    const slot = this.#find(key);
    if (slot < 0) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    this.#touch(slot);
    return this.table.valueOf(slot);
  }

  mget(keys: string[]): (Value | null)[] {
    const out = new Array<Value | null>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.get(keys[i]!);
    return out;
  }

  /** Counts the keys that exist; a key named twice counts twice (as in Redis). */
  exists(keys: string[]): number {
    let n = 0;
    for (const k of keys) if (this.#find(k) >= 0) n++;
    return n;
  }

  /** ms to live; -1 without TTL; -2 when missing. */
  pttl(key: string): number {
    const slot = this.#find(key);
    if (slot < 0) return -2;
    const at = this.table.expiry(slot);
    return at === 0 ? -1 : Math.max(0, at - this.#now());
  }

  /** Absolute expiry in ms; -1 without TTL; -2 when missing. */
  pexpiretime(key: string): number {
    const slot = this.#find(key);
    if (slot < 0) return -2;
    const at = this.table.expiry(slot);
    return at === 0 ? -1 : at;
  }

  /**
   * Keys matching a glob, in slot order. `from`/`to` walk part of the slots (see `slots`) into
   * `out`, so a caller can walk a big shard in steps (workers/walks.ts); `now`: the walk's clock.
   */
  keys(pattern: string, from = 0, to = Number.POSITIVE_INFINITY, out: string[] = [], now = this.#now()): string[] {
    this.keysStep(matchesAll(pattern) ? null : compileGlob(pattern), from, to, out, now);
    return out;
  }

  /**
   * keys() within a matching budget: the keys of slots [from, to) matching `glob` (null: all)
   * go to `out` until `work.budget` runs out (a long key against a long pattern may take many
   * steps). Returns the slot to go on from: `to` (or the table's end) when the range is done,
   * else the slot whose match `work` holds half done.
   */
  keysStep(glob: Glob | null, from: number, to: number, out: string[], now: number, work?: MatchWork): number {
    const t = this.table;
    const end = Math.min(to, t.slots);
    for (let slot = from; slot < end; slot++) {
      if (!t.has(slot)) continue;
      const at = t.expiry(slot);
      if (at !== 0 && at <= now) continue;
      const k = t.keyOf(slot);
      const hit = glob === null ? true : work === undefined ? glob.test(k) : glob.resume(k, work);
      if (hit === null) return slot;
      if (hit) out.push(k);
    }
    return end;
  }

  /** The store's clock (ms since the epoch): a walk reads it once, so every step sees the same moment. */
  now(): number {
    return this.#now();
  }

  /** One past the highest slot in use: walks over slots [0, slots) see every key. */
  get slots(): number {
    return this.table.slots;
  }

  /**
   * One step of a cursor scan. The cursor is a slot number: a key present for the whole scan
   * sits in one slot all along, so it is returned exactly once. Examines at most
   * `max(count * 8, 1024)` slots per call, so a sparse table never stalls the shard.
   */
  scan(cursor: number, pattern: string | null, count: number): [number, string[]] {
    const out: string[] = [];
    const [next] = this.scanSlots(cursor, pattern, count, Math.max(count * 8, 1024), out);
    return [next >= this.table.slots ? 0 : next, out];
  }

  /**
   * The walk under scan(): from slot `from`, at most `maxSlots` slots and until `maxLive` live
   * ones were seen; matching keys go to `out`. Returns [the slot to go on from, live slots seen].
   * `now`: the walk's clock.
   */
  scanSlots(
    from: number,
    pattern: string | null,
    maxLive: number,
    maxSlots: number,
    out: string[],
    now = this.#now(),
    work?: MatchWork,
  ): [number, number] {
    const glob = matchesAll(pattern) ? null : compileGlob(pattern!);
    const t = this.table;
    let slot = from;
    let live = 0;
    for (let seen = 0; slot < t.slots && live < maxLive && seen < maxSlots; slot++, seen++) {
      if (!t.has(slot)) continue;
      const at = t.expiry(slot);
      if (at !== 0 && at <= now) {
        live++;
        continue;
      }
      const k = t.keyOf(slot);
      const hit = glob === null ? true : work === undefined ? glob.test(k) : glob.resume(k, work);
      // Out of matching budget: this slot is looked at again (and counted) on the next call.
      if (hit === null) break;
      live++;
      if (hit) out.push(k);
    }
    return [slot, live];
  }

  // ---- writes ---------------------------------------------------------------------------------

  /** SET with Redis semantics. `flags` are SetFlag bits; `expireAt` absolute ms, 0 = none. */
  set(key: string, value: Value, flags = 0, expireAt = 0): SetResult {
    const slot = this.#find(key);
    const old = flags & SetFlag.GET && slot >= 0 ? this.table.valueOf(slot) : null;
    if ((flags & SetFlag.NX && slot >= 0) || (flags & SetFlag.XX && slot < 0)) return { applied: false, old };
    if (expireAt !== 0 && expireAt <= this.#now()) {
      // Already expired: the key ends up absent, exactly as if it had been set and then expired.
      if (slot >= 0) this.#remove(slot);
      return { applied: true, old };
    }
    this.#write(key, slot, value, expireAt !== 0 ? expireAt : flags & SetFlag.KEEPTTL ? KEEP_TTL : 0);
    return { applied: true, old };
  }

  /** Plain SET: no options, clears any TTL. */
  setPlain(key: string, value: Value): void {
    this.#write(key, this.#find(key), value, 0);
  }

  /** MSET of one shard's share: all or nothing on this shard (memory is checked first). */
  mset(pairs: unknown[]): void {
    if (this.maxBytes > 0 && this.policy === 'noeviction' && !this.forceWrites) {
      let grow = 0;
      for (let i = 0; i < pairs.length; i += 2) {
        const k = pairs[i] as string;
        const slot = this.#find(k);
        grow += entryBytes(this.table.enc.length, byteLength(pairs[i + 1] as Value)) - (slot >= 0 ? this.#sizeOf(slot) : 0);
      }
      if (grow > 0 && this.#bytes + grow > this.maxBytes) throw oom();
    }
    for (let i = 0; i < pairs.length; i += 2) this.setPlain(pairs[i] as string, pairs[i + 1] as Value);
  }

  del(keys: string[]): number {
    let n = 0;
    for (const k of keys) {
      const slot = this.#find(k);
      if (slot >= 0) {
        this.#remove(slot);
        n++;
      }
    }
    return n;
  }

  /** INCRBY with Redis's errors. Returns a number, or a decimal string past ±2^53. Keeps the TTL. */
  incrBy(key: string, delta: number | bigint): number | string {
    const slot = this.#find(key);
    let cur: number | bigint = 0;
    if (slot >= 0) cur = parseInteger(this.table.valueBytes(slot));
    let next: number | bigint;
    if (typeof cur === 'number' && typeof delta === 'number' && Number.isSafeInteger(cur + delta)) next = cur + delta;
    else {
      next = BigInt(cur) + BigInt(delta);
      if (next > INT64_MAX || next < INT64_MIN) throw new CacheError('OVERFLOW', 'increment or decrement would overflow');
    }
    const text = String(next);
    this.#write(key, slot, text, KEEP_TTL);
    return typeof next === 'number' ? next : Number.isSafeInteger(Number(next)) ? Number(next) : text;
  }

  /** APPEND: the new length in bytes. Strings stay strings; anything with bytes becomes bytes. Keeps the TTL. */
  append(key: string, value: Value): number {
    const slot = this.#find(key);
    if (slot < 0) {
      this.setPlain(key, value);
      return byteLength(value);
    }
    const cur = this.table.valueOf(slot);
    const next = typeof cur === 'string' && typeof value === 'string' ? cur + value : concatBytes(cur, value);
    this.#write(key, slot, next, KEEP_TTL);
    return byteLength(next);
  }

  /** STRLEN: the value's length in bytes, 0 when missing. */
  strlen(key: string): number {
    const slot = this.#find(key);
    return slot < 0 ? 0 : this.table.valueLength(slot);
  }

  /** GETRANGE with Redis's inclusive, negative-from-the-end offsets over the value's bytes. */
  getRange(key: string, start: number, end: number): Value {
    const slot = this.#find(key);
    if (slot < 0) return '';
    const text = this.table.isText(slot);
    const bytes = this.table.valueBytes(slot);
    const len = bytes.length;
    let s = start < 0 ? len + start : start;
    let e = end < 0 ? len + end : end;
    if (s < 0) s = 0;
    if (e < 0) e = 0;
    if (e >= len) e = len - 1;
    if (len === 0 || s > e) return text ? '' : new Uint8Array(0);
    const part = bytes.subarray(s, e + 1);
    return text ? part.toString('utf8') : new Uint8Array(part);
  }

  /** SETRANGE: overwrites from `offset` (zero-padding a gap), returns the new length. Keeps the TTL. */
  setRange(key: string, offset: number, value: Value): number {
    const slot = this.#find(key);
    const add = toBytes(value);
    if (slot < 0 && add.length === 0) return 0;
    const cur = slot < 0 ? Buffer.alloc(0) : this.table.valueBytes(slot);
    if (add.length === 0) return cur.length;
    const out = new Uint8Array(Math.max(cur.length, offset + add.length));
    out.set(cur);
    out.set(add, offset);
    const asString = (slot < 0 || this.table.isText(slot)) && typeof value === 'string' && offset <= cur.length;
    const next = asString ? Buffer.from(out).toString('utf8') : out;
    if (slot < 0) this.setPlain(key, next);
    else this.#write(key, slot, next, KEEP_TTL);
    return out.length;
  }

  /** GETDEL: the value, then the key is gone. */
  getDel(key: string): Value | null {
    const slot = this.#find(key);
    if (slot < 0) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    const v = this.table.valueOf(slot);
    this.#remove(slot);
    return v;
  }

  /** GETEX: the value, and the TTL set (`at` absolute ms), removed (`at` -1) or kept (`at` 0). */
  getEx(key: string, at: number): Value | null {
    const slot = this.#find(key);
    if (slot < 0) {
      this.#misses++;
      return null;
    }
    this.#hits++;
    this.#touch(slot);
    const v = this.table.valueOf(slot);
    if (at === 0) return v;
    if (at === -1) this.#setExpiry(slot, 0);
    else if (at <= this.#now()) this.#remove(slot);
    else this.#setExpiry(slot, at);
    return v;
  }

  /** INCRBYFLOAT with Redis's errors; the result is stored and returned as its decimal text. */
  incrByFloat(key: string, by: number): string {
    const slot = this.#find(key);
    let cur = 0;
    if (slot >= 0) cur = parseFloatStrict(this.table.valueText(slot));
    const next = cur + by;
    if (!Number.isFinite(next)) throw new CacheError('EINVAL', 'increment would produce NaN or Infinity');
    const text = formatFloat(next);
    this.#write(key, slot, text, KEEP_TTL);
    return text;
  }

  /** EXPIRE family: `at` absolute ms, `flags` ExpireFlag bits. True when the timeout was set. */
  expire(key: string, at: number, flags = 0): boolean {
    const slot = this.#find(key);
    if (slot < 0) return false;
    const cur = this.table.expiry(slot);
    if (flags & ExpireFlag.NX && cur !== 0) return false;
    if (flags & ExpireFlag.XX && cur === 0) return false;
    // GT/LT: a key without TTL counts as an infinite TTL.
    if (flags & ExpireFlag.GT && (cur === 0 || at <= cur)) return false;
    if (flags & ExpireFlag.LT && cur !== 0 && at >= cur) return false;
    if (at <= this.#now()) this.#remove(slot);
    else this.#setExpiry(slot, at);
    return true;
  }

  persist(key: string): boolean {
    const slot = this.#find(key);
    if (slot < 0 || this.table.expiry(slot) === 0) return false;
    this.#setExpiry(slot, 0);
    return true;
  }

  // ---- migration support ----------------------------------------------------------------------

  /** Starts (true) or stops (false) recording keys inserted from now on; see takeInserted(). */
  logInserts(on: boolean): void {
    this.#insertLog = on ? [] : null;
  }

  /** Keys inserted since logging started or since the last call. */
  takeInserted(): string[] {
    const out = this.#insertLog ?? [];
    if (this.#insertLog !== null) this.#insertLog = [];
    return out;
  }

  /** RANDOMKEY's first try (workers/walks.ts): a live key of 32 random slots; null when empty, undefined when none was hit. */
  randomProbe(): string | null | undefined {
    const t = this.table;
    if (t.size === 0 || t.slots === 0) return null;
    const now = this.#now();
    for (let i = 0; i < 32; i++) {
      const slot = (Math.random() * t.slots) | 0;
      if (this.#live(slot, now)) return t.keyOf(slot);
    }
    return undefined;
  }

  /** The live key in the lowest slot of [from, to), or null. */
  firstLive(from: number, to: number): string | null {
    const now = this.#now();
    const end = Math.min(to, this.table.slots);
    for (let slot = from; slot < end; slot++) if (this.#live(slot, now)) return this.table.keyOf(slot);
    return null;
  }

  #live(slot: number, now: number): boolean {
    if (!this.table.has(slot)) return false;
    const at = this.table.expiry(slot);
    return at === 0 || at > now;
  }

  /**
   * A key's state for replication, without expiring it: [value, absolute expiry or 0], or null
   * when absent or past its expiry.
   */
  peek(key: string): [Value, number] | null {
    const slot = this.table.find(key);
    if (slot < 0) return null;
    const at = this.table.expiry(slot);
    return at !== 0 && at <= this.#now() ? null : [this.table.valueOf(slot), at];
  }

  /**
   * Calls fn with the live entries from slot `from` on, until fn returns false or the slots end.
   * Returns the slot to go on from, or -1 at the end. Slots never move while a key lives, so a
   * walk across many calls sees every key that lives throughout it.
   */
  entriesFrom(from: number, fn: (key: string, value: Value, expireAt: number) => boolean): number {
    const now = this.#now();
    const t = this.table;
    for (let slot = from; slot < t.slots; slot++) {
      if (!this.#live(slot, now)) continue;
      if (!fn(t.keyOf(slot), t.valueOf(slot), t.expiry(slot))) return slot + 1;
    }
    return -1;
  }

  /**
   * Calls fn for every stored key's slot (expired ones included) with the key's ring hash;
   * `from`/`to`: part of the slots. keyAt(slot) gives the key, for the few a caller keeps.
   */
  eachKey(fn: (hash: number, slot: number) => void, from = 0, to = Number.POSITIVE_INFINITY): void {
    const t = this.table;
    const end = Math.min(to, t.slots);
    for (let slot = from; slot < end; slot++) if (t.has(slot)) fn(t.ringHash(slot), slot);
  }

  /** The key stored in a slot eachKey() named. */
  keyAt(slot: number): string {
    return this.table.keyOf(slot);
  }

  /** The ring hash of a stored key; -1 when absent. */
  hashOf(key: string): number {
    const slot = this.table.find(key);
    return slot < 0 ? -1 : this.table.ringHash(slot);
  }

  /** A live entry as it migrates: value and absolute expiry (0 = none); null when absent. */
  entry(key: string): [Value, number] | null {
    const slot = this.#find(key);
    return slot < 0 ? null : [this.table.valueOf(slot), this.table.expiry(slot)];
  }

  /**
   * Stores a migrated entry with its absolute expiry. Accepted over maxmemory under noeviction
   * (a move must not lose keys; the source frees as much), evicting under an LRU policy.
   */
  importEntry(key: string, value: Value, expireAt: number): void {
    if (expireAt !== 0 && expireAt <= this.#now()) {
      // Expired in transit: the old owner handed it over, so its removal is reported from here.
      this.removedMeanwhile?.add(key);
      return;
    }
    this.#write(key, this.#find(key), value, expireAt, true);
  }

  flushAll(): void {
    if (this.changes !== null) {
      // What changed before the flush is gone with it: the flush alone says so.
      this.changes.clear();
      this.flushed++;
    }
    this.table.clear();
    this.#ttlPos.fill(0);
    this.#ttlCount = 0;
    this.#head = this.#tail = -1;
    this.#bytes = 0;
    this.groups?.clear();
  }

  // ---- housekeeping ---------------------------------------------------------------------------

  /**
   * Active expiry, Redis's way: sample 20 keys that have a TTL, delete the expired ones, repeat
   * while more than a quarter were expired, for at most `maxRounds` rounds. Returns keys removed.
   * Also advances the access clock readers record.
   */
  sweep(maxRounds = 16): number {
    let removed = 0;
    const now = this.#now();
    this.table.setClock(Math.max(0, Math.floor((now - this.#epoch) / LRU_CLOCK_MS)) | 0);
    for (let round = 0; round < maxRounds && this.#ttlCount > 0; round++) {
      const samples = Math.min(20, this.#ttlCount);
      let hit = 0;
      for (let i = 0; i < samples && this.#ttlCount > 0; i++) {
        const slot = this.#ttlSlots[(Math.random() * this.#ttlCount) | 0]!;
        if (this.table.expiry(slot) <= now) {
          this.#removeExpired(slot);
          hit++;
        }
      }
      removed += hit;
      if (hit * 4 <= samples) break;
    }
    return removed;
  }

  /** Records a membership announcement heard on the BroadcastChannel (reported in stats). */
  noteAnnouncement(event: MembershipEvent): void {
    this.#announcements++;
    this.#announcedEpoch = Math.max(this.#announcedEpoch, event.epoch);
  }

  stats(): ShardStats {
    return {
      keys: this.table.size,
      bytes: this.#bytes,
      maxBytes: this.maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expired: this.#expired,
      ops: this.ops,
      volatileKeys: this.#ttlCount,
      announcements: this.#announcements,
      announcedEpoch: this.#announcedEpoch,
    };
  }

  // ---- slot machinery -------------------------------------------------------------------------

  /** The live slot of a key, or -1. Expires the key lazily when its time has passed. */
  #find(key: string): number {
    const slot = this.table.find(key);
    if (slot < 0) return -1;
    const at = this.table.expiry(slot);
    if (at !== 0 && at <= this.#now()) {
      this.#removeExpired(slot);
      return -1;
    }
    return slot;
  }

  #removeExpired(slot: number): void {
    if (this.removedMeanwhile !== null) this.removedMeanwhile.add(this.table.keyOf(slot));
    this.#remove(slot);
    this.#expired++;
  }

  /** An entry's counted bytes. */
  #sizeOf(slot: number): number {
    return this.table.blockBytes(slot) + ENTRY_OVERHEAD;
  }

  /**
   * Stores a value for a key (slot -1: new key) with its expiry `at` (absolute ms, 0 = none,
   * KEEP_TTL = the key's current one), enforcing maxBytes first; readers see value and expiry
   * change together. Returns the slot. Must follow the #find(key) that gave `slot`: the table
   * still holds that key's bytes.
   */
  #write(key: string, slot: number, value: Value, at: number, force = false): number {
    const vlen = byteLength(value);
    const t = this.table;
    const size = entryBytes(slot >= 0 ? t.keyLength(slot) : t.enc.length, vlen);
    const oldSize = slot >= 0 ? this.#sizeOf(slot) : 0;
    const max = this.#maxBytes;
    if (max > 0 && this.#bytes - oldSize + size > max) {
      // Over a budget just lowered (LRU): a write evicts only what it adds; trim() does the rest.
      const limit = this.#lru && this.#bytes > max ? this.#bytes : max;
      if (!force && !this.forceWrites) this.#makeRoom(size - oldSize, slot, true, limit);
      else if (this.policy !== 'noeviction') this.#makeRoom(size - oldSize, slot, false, limit);
    }
    if (slot < 0) {
      const hash = hashInternal(fingerprint32, key);
      slot = t.insert(key, value, vlen, hash, at === KEEP_TTL ? 0 : at);
      if (slot >= this.#cap) this.#grow();
      this.groups?.add(hash);
      if (slot < this.#ttlPos.length) this.#ttlPos[slot] = 0;
      this.#linkHead(slot);
      this.#insertLog?.push(key);
    } else {
      t.replace(slot, value, vlen, at);
      this.#touch(slot);
    }
    this.#bytes += this.#sizeOf(slot) - oldSize;
    this.changes?.add(key);
    this.#listExpiry(slot, t.expiry(slot));
    return slot;
  }

  /**
   * Frees `need` bytes by policy so the shard holds at most `limit`, never evicting `keep`;
   * throws OOM when it cannot (unless `strict` is false).
   */
  #makeRoom(need: number, keep: number, strict: boolean, limit: number): void {
    if (this.policy === 'noeviction' || need <= 0) {
      if (need > 0 && strict) throw oom();
      return;
    }
    while (this.#bytes + need > limit) {
      const victim = this.#victim(keep);
      if (victim < 0) break;
      this.#evict(victim);
    }
    if (this.#bytes + need > limit && strict) throw oom();
  }

  /**
   * The least recently used slot other than `keep`, or -1: from the tail of the owner's list,
   * giving a slot that a reader touched since it was linked (its access clock moved) a second
   * chance at the head, at most SECOND_CHANCES times per call.
   */
  #victim(keep: number): number {
    let chances = SECOND_CHANCES;
    let victim = this.#tail;
    while (victim >= 0) {
      const prev = this.#prev[victim]!;
      if (victim !== keep) {
        const clock = this.table.accessClock(victim);
        if (chances === 0 || clock === this.#linked[victim]) return victim;
        chances--;
        this.#unlink(victim);
        this.#linkHead(victim);
      }
      victim = prev;
    }
    return -1;
  }

  #evict(slot: number): void {
    this.removedMeanwhile?.add(this.table.keyOf(slot));
    this.#remove(slot);
    this.#evictions++;
  }

  #grow(): void {
    const cap = this.table.capacity;
    const grown = (a: Int32Array): Int32Array => growSlotArray(a, cap);
    if (this.#lru) {
      this.#prev = grown(this.#prev);
      this.#next = grown(this.#next);
      this.#linked = grown(this.#linked);
    }
    if (this.#ttlPos.length > 0) {
      this.#ttlSlots = grown(this.#ttlSlots);
      this.#ttlPos = grown(this.#ttlPos);
    }
    this.#cap = cap;
  }

  #remove(slot: number): void {
    if (this.changes !== null) this.changes.add(this.table.keyOf(slot));
    this.#bytes -= this.#sizeOf(slot);
    this.groups?.remove(this.table.ringHash(slot));
    this.#dropExpiry(slot);
    this.#unlink(slot);
    this.table.remove(slot);
  }

  #setExpiry(slot: number, at: number): void {
    if (this.changes !== null && this.table.expiry(slot) !== at) this.changes.add(this.table.keyOf(slot));
    this.table.setExpiry(slot, at);
    this.#listExpiry(slot, at);
  }

  /** Keeps the dense TTL list in step with a slot's expiry. */
  #listExpiry(slot: number, at: number): void {
    if (at === 0) {
      this.#dropExpiry(slot);
      return;
    }
    if (this.#ttlPos.length === 0) {
      this.#ttlSlots = slotArray(this.#cap);
      this.#ttlPos = slotArray(this.#cap);
    }
    if (this.#ttlPos[slot] !== 0) return;
    this.#ttlSlots[this.#ttlCount] = slot;
    this.#ttlPos[slot] = ++this.#ttlCount;
  }

  /** Swap-removes a slot from the dense TTL list. */
  #dropExpiry(slot: number): void {
    const pos = (this.#ttlPos[slot] ?? 0) - 1;
    if (pos < 0) return;
    const last = this.#ttlSlots[--this.#ttlCount]!;
    this.#ttlSlots[pos] = last;
    this.#ttlPos[last] = pos + 1;
    this.#ttlPos[slot] = 0;
  }

  #touch(slot: number): void {
    this.table.touch(slot);
    if (!this.#lru || this.#head === slot) return;
    this.#unlink(slot);
    this.#linkHead(slot);
  }

  #linkHead(slot: number): void {
    if (!this.#lru) return;
    this.#linked[slot] = this.table.accessClock(slot);
    this.#prev[slot] = -1;
    this.#next[slot] = this.#head;
    if (this.#head >= 0) this.#prev[this.#head] = slot;
    this.#head = slot;
    if (this.#tail < 0) this.#tail = slot;
  }

  #unlink(slot: number): void {
    if (!this.#lru) return;
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p >= 0) this.#next[p] = n;
    else if (this.#head === slot) this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else if (this.#tail === slot) this.#tail = p;
    this.#prev[slot] = this.#next[slot] = -1;
  }
}

/** The counted bytes of an entry whose key and value have these byte lengths. */
function entryBytes(keyLength: number, valueLength: number): number {
  return blockUnits(BLOCK_HEADER + keyLength + valueLength) * 16 + ENTRY_OVERHEAD;
}

/** The counted bytes of one entry. */
export function entrySize(key: string, value: Value): number {
  const k = key.charCodeAt(0) === 0xdc00 ? key.length - 1 : Buffer.byteLength(key);
  return entryBytes(k, byteLength(value));
}

function toBytes(v: Value): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function byteLength(v: Value): number {
  return typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength;
}

function concatBytes(a: Value, b: Value): Uint8Array {
  const x = toBytes(a);
  const y = toBytes(b);
  const out = new Uint8Array(x.length + y.length);
  out.set(x);
  out.set(y, x.length);
  return out;
}

const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A stored value as a float, strictly (no spaces, no hex, finite), with Redis's error. */
export function parseFloatStrict(text: string): number {
  const n = FLOAT_RE.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n)) throw new CacheError('NOT_FLOAT', 'value is not a valid float');
  return n;
}

/** A float as Redis prints INCRBYFLOAT results: plain decimal, no exponent, no trailing zeros. */
export function formatFloat(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  const fixed = Math.abs(n) >= 1 ? BigInt(Math.round(n)).toString() : n.toFixed(20);
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

function oom(): CacheError {
  return new CacheError('OOM', "command not allowed when used memory > 'maxmemory'.");
}

/** Parses a stored value as a signed 64-bit integer, strictly (as Redis's string2ll). */
function parseInteger(bytes: Buffer): number | bigint {
  if (bytes.length > 20) throw notInteger();
  const text = bytes.latin1Slice(0, bytes.length);
  if (text.length === 0 || text.length > 20 || !INTEGER_RE.test(text)) throw notInteger();
  if (text.length <= 15) return Number(text);
  const big = BigInt(text);
  if (big > INT64_MAX || big < INT64_MIN) throw notInteger();
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

function notInteger(): CacheError {
  return new CacheError('NOT_INTEGER', 'value is not an integer or out of range');
}
