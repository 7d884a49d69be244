// The storage of one shard: entries, TTLs, LRU order, eviction and memory accounting.
// A plain module with an injected clock, imported directly by tests; it never touches ports.
//
// Layout (struct of arrays, see DESIGN §7): a key's slot number comes from the index (Maps of
// key → slot); per-slot data lives in parallel arrays: key and value in JS arrays, expiry in a
// Float64Array, LRU links in Int32Arrays. This costs far less per entry than one object per key,
// and slot numbers are stable, which is what makes SCAN cursors exact.
// The file is over 400 lines because every command's semantics share the slot machinery; the
// command logic itself is thin.
import { CacheError } from '../src/errors.js';
import { fingerprint32 } from '../src/hash.js';
import { hashInternal } from '../src/keys.js';
import { ExpireFlag, SetFlag, type EvictionPolicy, type MembershipEvent, type ShardStats } from '../src/protocol.js';
import { compileGlob, type Glob, type MatchWork, matchesAll } from '../src/glob.js';
import type { GroupCounts } from './group-counts.js';
import { SlotIndex } from './slot-index.js';

/** A stored value: strings stay strings, bytes stay bytes (an exact-size Uint8Array). */
export type Value = string | Uint8Array;

/**
 * Bytes counted per entry on top of its key and value bytes, measured with `npm run bench:memory`
 * (RSS growth of a filled cluster): the key and value strings' headers, the index Map's entry,
 * the slot in the key and value arrays and in six typed arrays (which double as they grow), and
 * what the worker's heap holds beyond its live data for each small object (allocation and
 * promotion between collections).
 */
export const ENTRY_OVERHEAD = 256;
/**
 * Key and value bytes count this many times over: a shard's heap grows ahead of its live data
 * (garbage waits for the next major collection, pages are kept), measured as 1.4–1.5× for big values.
 */
export const DATA_FACTOR = 1.4;
/** Extra bytes counted for a byte value (measured): the Uint8Array and ArrayBuffer objects and the backing store's records. */
export const BYTES_VALUE_OVERHEAD = 400;

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
  /** Keys per index Map (V8 caps a Map at 2^24 entries). Default 2^24 - 1; tests make it small. */
  mapLimit?: number;
  /** Starting slot capacity; arrays double as needed. Default 1024. */
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
  #index: SlotIndex;
  #keys: (string | undefined)[] = [];
  #vals: (Value | undefined)[] = [];
  /**
   * Per slot, side by side so that one cache line serves a write: `[slot * 2]` the absolute
   * expiry in ms (0 = no TTL), `[slot * 2 + 1]` the entry's estimated bytes (entrySize), so an
   * overwrite never reads the old value.
   */
  #meta: Float64Array;
  /**
   * The ring hash of each slot's key, computed once on insert (on the shard's thread), so that
   * planning a migration reads hashes instead of hashing every key while ops wait.
   */
  #hashes: Uint32Array;
  /** LRU list over slots: head is most recent, tail least; -1 ends. Kept only under an LRU policy (noeviction never asks for recency). */
  readonly #lru: boolean;
  #prev: Int32Array;
  #next: Int32Array;
  #head = -1;
  #tail = -1;
  /** Dense list of slots that have a TTL, for sampling by the active sweep; `#ttlPos[slot]` is -1 or the position. */
  #ttlSlots: Int32Array;
  #ttlPos: Int32Array;
  #ttlCount = 0;
  #free: number[] = [];
  #top = 0;
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
    this.#index = new SlotIndex(options.mapLimit);
    this.#cap = Math.max(16, options.initialCapacity ?? 1024);
    this.#lru = this.policy !== 'noeviction';
    this.#meta = new Float64Array(this.#cap * 2);
    this.#hashes = new Uint32Array(this.#cap);
    this.#prev = new Int32Array(this.#cap);
    this.#next = new Int32Array(this.#cap);
    this.#ttlSlots = new Int32Array(this.#cap);
    this.#ttlPos = new Int32Array(this.#cap).fill(-1);
  }

  get size(): number {
    return this.#index.size;
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
      const victim = this.#tail;
      this.removedMeanwhile?.add(this.#keys[victim]!);
      this.#remove(victim);
      this.#evictions++;
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
    return this.#vals[slot]!;
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
    const at = this.#meta[slot * 2]!;
    return at === 0 ? -1 : Math.max(0, at - this.#now());
  }

  /** Absolute expiry in ms; -1 without TTL; -2 when missing. */
  pexpiretime(key: string): number {
    const slot = this.#find(key);
    if (slot < 0) return -2;
    const at = this.#meta[slot * 2]!;
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
    const end = Math.min(to, this.#top);
    for (let slot = from; slot < end; slot++) {
      const k = this.#keys[slot];
      if (k === undefined) continue;
      const at = this.#meta[slot * 2]!;
      if (at !== 0 && at <= now) continue;
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
    return this.#top;
  }

  /**
   * One step of a cursor scan. The cursor is a slot number: a key present for the whole scan
   * sits in one slot all along, so it is returned exactly once. Examines at most
   * `max(count * 8, 1024)` slots per call, so a sparse table never stalls the shard.
   */
  scan(cursor: number, pattern: string | null, count: number): [number, string[]] {
    const out: string[] = [];
    const [next] = this.scanSlots(cursor, pattern, count, Math.max(count * 8, 1024), out);
    return [next >= this.#top ? 0 : next, out];
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
    let slot = from;
    let live = 0;
    for (let seen = 0; slot < this.#top && live < maxLive && seen < maxSlots; slot++, seen++) {
      const k = this.#keys[slot];
      if (k === undefined) continue;
      const at = this.#meta[slot * 2]!;
      if (at !== 0 && at <= now) {
        live++;
        continue;
      }
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
    let slot = this.#find(key);
    const old = flags & SetFlag.GET && slot >= 0 ? this.#vals[slot]! : null;
    if ((flags & SetFlag.NX && slot >= 0) || (flags & SetFlag.XX && slot < 0)) return { applied: false, old };
    if (expireAt !== 0 && expireAt <= this.#now()) {
      // Already expired: the key ends up absent, exactly as if it had been set and then expired.
      if (slot >= 0) this.#remove(slot);
      return { applied: true, old };
    }
    slot = this.#write(key, slot, value);
    if (expireAt !== 0) this.#setExpiry(slot, expireAt);
    else if (!(flags & SetFlag.KEEPTTL)) this.#setExpiry(slot, 0);
    return { applied: true, old };
  }

  /** Plain SET: no options, clears any TTL. */
  setPlain(key: string, value: Value): void {
    const slot = this.#write(key, this.#find(key), value);
    this.#setExpiry(slot, 0);
  }

  /** MSET of one shard's share: all or nothing on this shard (memory is checked first). */
  mset(pairs: unknown[]): void {
    if (this.maxBytes > 0 && this.policy === 'noeviction' && !this.forceWrites) {
      let grow = 0;
      for (let i = 0; i < pairs.length; i += 2) {
        const k = pairs[i] as string;
        const slot = this.#find(k);
        grow += entrySize(k, pairs[i + 1] as Value) - (slot >= 0 ? this.#meta[slot * 2 + 1]! : 0);
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
    if (slot >= 0) cur = parseInteger(this.#vals[slot]!);
    let next: number | bigint;
    if (typeof cur === 'number' && typeof delta === 'number' && Number.isSafeInteger(cur + delta)) next = cur + delta;
    else {
      next = BigInt(cur) + BigInt(delta);
      if (next > INT64_MAX || next < INT64_MIN) throw new CacheError('OVERFLOW', 'increment or decrement would overflow');
    }
    const text = String(next);
    const at = slot >= 0 ? this.#meta[slot * 2]! : 0;
    const written = this.#write(key, slot, text);
    this.#setExpiry(written, at);
    return typeof next === 'number' ? next : Number.isSafeInteger(Number(next)) ? Number(next) : text;
  }

  /** APPEND: the new length in bytes. Strings stay strings; anything with bytes becomes bytes. Keeps the TTL. */
  append(key: string, value: Value): number {
    const slot = this.#find(key);
    if (slot < 0) {
      this.setPlain(key, value);
      return byteLength(value);
    }
    const cur = this.#vals[slot]!;
    const next = typeof cur === 'string' && typeof value === 'string' ? cur + value : concatBytes(cur, value);
    this.#write(key, slot, next);
    return byteLength(next);
  }

  /** STRLEN: the value's length in bytes, 0 when missing. */
  strlen(key: string): number {
    const slot = this.#find(key);
    return slot < 0 ? 0 : byteLength(this.#vals[slot]!);
  }

  /** GETRANGE with Redis's inclusive, negative-from-the-end offsets over the value's bytes. */
  getRange(key: string, start: number, end: number): Value {
    const slot = this.#find(key);
    if (slot < 0) return '';
    const cur = this.#vals[slot]!;
    const bytes = toBytes(cur);
    const len = bytes.length;
    let s = start < 0 ? len + start : start;
    let e = end < 0 ? len + end : end;
    if (s < 0) s = 0;
    if (e < 0) e = 0;
    if (e >= len) e = len - 1;
    if (len === 0 || s > e) return typeof cur === 'string' ? '' : new Uint8Array(0);
    const part = bytes.subarray(s, e + 1);
    return typeof cur === 'string' ? part.toString('utf8') : new Uint8Array(part);
  }

  /** SETRANGE: overwrites from `offset` (zero-padding a gap), returns the new length. Keeps the TTL. */
  setRange(key: string, offset: number, value: Value): number {
    const slot = this.#find(key);
    const add = toBytes(value);
    if (slot < 0 && add.length === 0) return 0;
    const cur = slot < 0 ? Buffer.alloc(0) : toBytes(this.#vals[slot]!);
    if (add.length === 0) return cur.length;
    const out = new Uint8Array(Math.max(cur.length, offset + add.length));
    out.set(cur);
    out.set(add, offset);
    const asString = (slot < 0 || typeof this.#vals[slot] === 'string') && typeof value === 'string' && offset <= cur.length;
    const next = asString ? Buffer.from(out).toString('utf8') : out;
    if (slot < 0) this.setPlain(key, next);
    else this.#write(key, slot, next);
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
    const v = this.#vals[slot]!;
    this.#remove(slot);
    return v;
  }

  /** GETEX: the value, and the TTL set (`at` absolute ms), removed (`at` -1) or kept (`at` 0). */
  getEx(key: string, at: number): Value | null {
    const v = this.get(key);
    if (v === null || at === 0) return v;
    const slot = this.#find(key);
    if (at === -1) this.#setExpiry(slot, 0);
    else if (at <= this.#now()) this.#remove(slot);
    else this.#setExpiry(slot, at);
    return v;
  }

  /** INCRBYFLOAT with Redis's errors; the result is stored and returned as its decimal text. */
  incrByFloat(key: string, by: number): string {
    const slot = this.#find(key);
    let cur = 0;
    if (slot >= 0) {
      const text = typeof this.#vals[slot] === 'string' ? (this.#vals[slot] as string) : toBytes(this.#vals[slot]!).toString('latin1');
      cur = parseFloatStrict(text);
    }
    const next = cur + by;
    if (!Number.isFinite(next)) throw new CacheError('EINVAL', 'increment would produce NaN or Infinity');
    const text = formatFloat(next);
    const at = slot >= 0 ? this.#meta[slot * 2]! : 0;
    const written = this.#write(key, slot, text);
    this.#setExpiry(written, at);
    return text;
  }

  /** EXPIRE family: `at` absolute ms, `flags` ExpireFlag bits. True when the timeout was set. */
  expire(key: string, at: number, flags = 0): boolean {
    const slot = this.#find(key);
    if (slot < 0) return false;
    const cur = this.#meta[slot * 2]!;
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
    if (slot < 0 || this.#meta[slot * 2] === 0) return false;
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
    if (this.#index.size === 0 || this.#top === 0) return null;
    const now = this.#now();
    for (let i = 0; i < 32; i++) {
      const slot = (Math.random() * this.#top) | 0;
      if (this.#live(slot, now)) return this.#keys[slot]!;
    }
    return undefined;
  }

  /** The live key in the lowest slot of [from, to), or null. */
  firstLive(from: number, to: number): string | null {
    const now = this.#now();
    const end = Math.min(to, this.#top);
    for (let slot = from; slot < end; slot++) if (this.#live(slot, now)) return this.#keys[slot]!;
    return null;
  }

  #live(slot: number, now: number): boolean {
    const at = this.#meta[slot * 2]!;
    return this.#keys[slot] !== undefined && (at === 0 || at > now);
  }

  /**
   * A key's state for replication, without expiring it: [value, absolute expiry or 0], or null
   * when absent or past its expiry.
   */
  peek(key: string): [Value, number] | null {
    const slot = this.#index.get(key);
    if (slot === undefined) return null;
    const at = this.#meta[slot * 2]!;
    return at !== 0 && at <= this.#now() ? null : [this.#vals[slot]!, at];
  }

  /**
   * Calls fn with the live entries from slot `from` on, until fn returns false or the slots end.
   * Returns the slot to go on from, or -1 at the end. Slots never move while a key lives, so a
   * walk across many calls sees every key that lives throughout it.
   */
  entriesFrom(from: number, fn: (key: string, value: Value, expireAt: number) => boolean): number {
    const now = this.#now();
    for (let slot = from; slot < this.#top; slot++) {
      const k = this.#keys[slot];
      if (k === undefined) continue;
      const at = this.#meta[slot * 2]!;
      if (at !== 0 && at <= now) continue;
      if (!fn(k, this.#vals[slot]!, at)) return slot + 1;
    }
    return -1;
  }

  /** Calls fn for every stored key (expired ones included) with its ring hash; `from`/`to`: part of the slots. */
  eachKey(fn: (key: string, hash: number) => void, from = 0, to = Number.POSITIVE_INFINITY): void {
    const end = Math.min(to, this.#top);
    for (let slot = from; slot < end; slot++) {
      const k = this.#keys[slot];
      if (k !== undefined) fn(k, this.#hashes[slot]!);
    }
  }

  /** The ring hash of a stored key; -1 when absent. */
  hashOf(key: string): number {
    const slot = this.#index.get(key);
    return slot === undefined ? -1 : this.#hashes[slot]!;
  }

  /** A live entry as it migrates: value and absolute expiry (0 = none); null when absent. */
  entry(key: string): [Value, number] | null {
    const slot = this.#find(key);
    return slot < 0 ? null : [this.#vals[slot]!, this.#meta[slot * 2]!];
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
    const slot = this.#write(key, this.#find(key), value, true);
    this.#setExpiry(slot, expireAt);
  }

  flushAll(): void {
    if (this.changes !== null) {
      // What changed before the flush is gone with it: the flush alone says so.
      this.changes.clear();
      this.flushed++;
    }
    this.#index.clear();
    this.#keys = [];
    this.#vals = [];
    this.#meta.fill(0);
    this.#ttlPos.fill(-1);
    this.#ttlCount = 0;
    this.#free = [];
    this.#top = 0;
    this.#head = this.#tail = -1;
    this.#bytes = 0;
    this.groups?.clear();
  }

  // ---- housekeeping ---------------------------------------------------------------------------

  /**
   * Active expiry, Redis's way: sample 20 keys that have a TTL, delete the expired ones, repeat
   * while more than a quarter were expired, for at most `maxRounds` rounds. Returns keys removed.
   */
  sweep(maxRounds = 16): number {
    let removed = 0;
    const now = this.#now();
    for (let round = 0; round < maxRounds && this.#ttlCount > 0; round++) {
      const samples = Math.min(20, this.#ttlCount);
      let hit = 0;
      for (let i = 0; i < samples && this.#ttlCount > 0; i++) {
        const slot = this.#ttlSlots[(Math.random() * this.#ttlCount) | 0]!;
        if (this.#meta[slot * 2]! <= now) {
          this.#remove(slot);
          this.#expired++;
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
      keys: this.#index.size,
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
    const slot = this.#index.get(key);
    if (slot === undefined) return -1;
    const at = this.#meta[slot * 2]!;
    if (at !== 0 && at <= this.#now()) {
      this.removedMeanwhile?.add(key);
      this.#remove(slot);
      this.#expired++;
      return -1;
    }
    return slot;
  }

  /** Stores a value for a key (slot -1: new key), enforcing maxBytes first. Returns the slot. */
  #write(key: string, slot: number, value: Value, force = false): number {
    const size = entrySize(key, value);
    const oldSize = slot >= 0 ? this.#meta[slot * 2 + 1]! : 0;
    const max = this.#maxBytes;
    if (max > 0 && this.#bytes - oldSize + size > max) {
      // Over a budget just lowered (LRU): a write evicts only what it adds; trim() does the rest.
      const limit = this.#lru && this.#bytes > max ? this.#bytes : max;
      if (!force && !this.forceWrites) this.#makeRoom(size - oldSize, slot, true, limit);
      else if (this.policy !== 'noeviction') this.#makeRoom(size - oldSize, slot, false, limit);
    }
    if (slot < 0) {
      slot = this.#alloc();
      this.#keys[slot] = key;
      const hash = hashInternal(fingerprint32, key);
      this.#hashes[slot] = hash;
      this.groups?.add(hash);
      this.#index.set(key, slot);
      this.#linkHead(slot);
      this.#insertLog?.push(key);
    } else this.#touch(slot);
    this.#vals[slot] = value;
    this.#meta[slot * 2 + 1] = size;
    this.#bytes += size - oldSize;
    this.changes?.add(key);
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
    let victim = this.#tail;
    while (this.#bytes + need > limit && victim >= 0) {
      const prev = this.#prev[victim]!;
      if (victim !== keep) {
        this.removedMeanwhile?.add(this.#keys[victim]!);
        this.#remove(victim);
        this.#evictions++;
      }
      victim = prev;
    }
    if (this.#bytes + need > limit && strict) throw oom();
  }

  #alloc(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#top === this.#cap) this.#grow();
    return this.#top++;
  }

  #grow(): void {
    const cap = this.#cap * 2;
    const grown = (a: Int32Array): Int32Array => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const meta = new Float64Array(cap * 2);
    meta.set(this.#meta);
    this.#meta = meta;
    const hashes = new Uint32Array(cap);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    this.#prev = grown(this.#prev);
    this.#next = grown(this.#next);
    this.#ttlSlots = grown(this.#ttlSlots);
    this.#ttlPos = grown(this.#ttlPos);
    this.#ttlPos.fill(-1, this.#cap);
    this.#cap = cap;
  }

  #remove(slot: number): void {
    const key = this.#keys[slot]!;
    this.changes?.add(key);
    this.#bytes -= this.#meta[slot * 2 + 1]!;
    this.#meta[slot * 2 + 1] = 0;
    this.groups?.remove(this.#hashes[slot]!);
    this.#index.delete(key);
    this.#keys[slot] = undefined;
    this.#vals[slot] = undefined;
    this.#setExpiry(slot, 0);
    this.#unlink(slot);
    this.#free.push(slot);
  }

  #setExpiry(slot: number, at: number): void {
    if (this.changes !== null && this.#meta[slot * 2] !== at) {
      const key = this.#keys[slot];
      if (key !== undefined) this.changes.add(key);
    }
    this.#meta[slot * 2] = at;
    const pos = this.#ttlPos[slot]!;
    if (at !== 0 && pos < 0) {
      this.#ttlSlots[this.#ttlCount] = slot;
      this.#ttlPos[slot] = this.#ttlCount++;
    } else if (at === 0 && pos >= 0) {
      // Swap-remove from the dense TTL list.
      const last = this.#ttlSlots[--this.#ttlCount]!;
      this.#ttlSlots[pos] = last;
      this.#ttlPos[last] = pos;
      this.#ttlPos[slot] = -1;
    }
  }

  #touch(slot: number): void {
    if (!this.#lru || this.#head === slot) return;
    this.#unlink(slot);
    this.#linkHead(slot);
  }

  #linkHead(slot: number): void {
    if (!this.#lru) return;
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

/** The estimated bytes of one entry. */
export function entrySize(key: string, value: Value): number {
  const data = key.length + (typeof value === 'string' ? value.length : value.byteLength);
  return ENTRY_OVERHEAD + Math.ceil(data * DATA_FACTOR) + (typeof value === 'string' ? 0 : BYTES_VALUE_OVERHEAD);
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
function parseInteger(value: Value): number | bigint {
  const text = typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  if (text.length === 0 || text.length > 20 || !INTEGER_RE.test(text)) throw notInteger();
  if (text.length <= 15) return Number(text);
  const big = BigInt(text);
  if (big > INT64_MAX || big < INT64_MIN) throw notInteger();
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

function notInteger(): CacheError {
  return new CacheError('NOT_INTEGER', 'value is not an integer or out of range');
}
