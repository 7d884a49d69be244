// Reads one shard's shared memory in the calling thread: an optimistic lookup validated by the
// key's stripe version and the index generation (DESIGN §9). It never writes anything but a
// slot's access clock, never waits, and never trusts a word it read until validation says so:
// every offset and length is bounds-checked first, and a read that saw a write happen answers
// FALLBACK after a few tries, for the caller to ask the owner over its port.
import {
  B_KEY_LEN,
  B_KINDS,
  B_UNITS,
  B_VALUE_LEN,
  BLOCK_HEADER,
  C_CLOCK,
  C_GEN,
  C_PARTS_AT,
  C_SEGMENTS,
  C_STATE,
  bufferView,
  C_STRIPES_AT,
  CLOSED_STATE,
  copyBytes,
  float64View,
  indexHash,
  int32View,
  KeyEncoder,
  KIND_ASCII,
  KIND_BYTES,
  KIND_UTF8,
  P_GEN,
  P_MASK,
  P_OFF,
  PART_SHIFT,
  PART_WORDS,
  REF_OFFSET_BITS,
  REF_OFFSET_MASK,
  S_CLOCK,
  S_REF,
  SLOT_WORDS,
  type ShardMemory,
  STRIPE_SHIFT,
  uint32View,
} from './layout.js';

/** What a read answers when it could not read in place: ask the owner. */
export const FALLBACK: unique symbol = Symbol('ask the owner');
export type Fallback = typeof FALLBACK;

/** Tries per read before FALLBACK: the owner may be preempted mid-write, so spinning longer buys nothing (PLATFORM.md). */
const TRIES = 3;
/** find()'s answers besides a slot. */
const MISS = -1;
const TORN = -2;
/** The reads #read() makes. */
const GET = 0;
const EXPIRY = 1;
const STRLEN = 2;
const RANGE = 3;

/** A reader of one shard's memory. One per thread and shard; not for concurrent use (it keeps scratch state). */
export class ShardView {
  readonly memory: ShardMemory;
  /** Reads answered in place, and those that found the key. */
  reads = 0;
  hits = 0;
  /** Reads that gave up and answered FALLBACK. */
  fallbacks = 0;
  #ctl: Int32Array;
  #index: Int32Array;
  #slotW: Int32Array;
  #slotF: Float64Array;
  #segs: Buffer[] = [];
  #segW: Uint32Array[] = [];
  #enc = new KeyEncoder();
  #hash = 0;
  #gen = 0;
  #partGen = 0;
  /** The key's part's header words. */
  #part = 0;
  #version = 0;
  // Where find() found the key's block.
  #seg = 0;
  #at = 0;
  #vlen = 0;
  #kinds = 0;

  constructor(memory: ShardMemory) {
    this.memory = memory;
    this.#ctl = new Int32Array(memory.control);
    // Fixed-length views (fast), made again when a bounds check meets the owner's growth.
    this.#index = int32View(memory.index);
    this.#slotW = int32View(memory.slots);
    this.#slotF = float64View(memory.slots);
    for (const s of memory.segments) this.addSegment(s);
  }

  /** Views as long as the buffers are now: the owner grew one (growth needs no message). */
  #remap(): void {
    const m = this.memory;
    this.#index = int32View(m.index);
    this.#slotW = int32View(m.slots);
    this.#slotF = float64View(m.slots);
    for (let i = 0; i < this.#segs.length; i++) {
      this.#segs[i] = bufferView(m.segments[i]!);
      this.#segW[i] = uint32View(m.segments[i]!);
    }
  }

  /** A segment the owner created after this view was made (it announces each by message). */
  addSegment(segment: SharedArrayBuffer): void {
    if (this.memory.segments.length === this.#segs.length) {
      if (!this.memory.segments.includes(segment)) this.memory.segments.push(segment);
    }
    this.#segs.push(bufferView(segment));
    this.#segW.push(uint32View(segment));
  }

  /** True once the owner will never serve this memory again. */
  get closed(): boolean {
    return this.#ctl[C_STATE] === CLOSED_STATE;
  }

  /** GET: the value (strings as strings, bytes as a Buffer of their own), null when absent or expired at `now`. */
  get(key: string, now: number): string | Buffer | null | Fallback {
    return this.#read(GET, key, now, 0, 0) as string | Buffer | null | Fallback;
  }

  /** EXISTS for one key: 1 or 0. */
  exists(key: string, now: number): number | Fallback {
    const at = this.expiry(key, now);
    return at === FALLBACK ? at : at === -2 ? 0 : 1;
  }

  /** The absolute expiry in ms: -1 without one, -2 when absent (PEXPIRETIME's answer). */
  expiry(key: string, now: number): number | Fallback {
    return this.#read(EXPIRY, key, now, 0, 0) as number | Fallback;
  }

  /** STRLEN: the value's length in bytes, 0 when absent. */
  strlen(key: string, now: number): number | Fallback {
    return this.#read(STRLEN, key, now, 0, 0) as number | Fallback;
  }

  /** GETRANGE with Redis's inclusive, negative-from-the-end offsets over the value's bytes. */
  getRange(key: string, start: number, end: number, now: number): string | Buffer | Fallback {
    return this.#read(RANGE, key, now, start, end) as string | Buffer | Fallback;
  }

  /** One read (`what`) of `key` at `now`: tried TRIES times, each answer kept only if nothing moved under it. */
  #read(what: number, key: string, now: number, start: number, end: number): unknown {
    this.#prepare(key);
    for (let i = 0; i < TRIES; i++) {
      if (!this.#begin()) continue;
      const slot = this.#find();
      if (slot === TORN) continue;
      const live = slot >= 0 && this.#live(slot, now);
      const out = this.#answer(what, live ? slot : MISS, start, end);
      if (this.#valid()) return this.#done(live ? slot : MISS, out);
    }
    this.fallbacks++;
    return FALLBACK;
  }

  /** What read `what` answers for the live key in `slot` (MISS: absent), from the block #find() located. */
  #answer(what: number, slot: number, start: number, end: number): unknown {
    switch (what) {
      case GET:
        return slot < 0 ? null : this.#bytesOut(this.#kinds & 3, 0, this.#vlen);
      case EXPIRY: {
        if (slot < 0) return -2;
        const at = this.#slotF[slot * 2 + 1]!;
        return at === 0 ? -1 : at;
      }
      case STRLEN:
        return slot < 0 ? 0 : this.#vlen;
      default: {
        if (slot < 0) return '';
        const len = this.#vlen;
        let s = start < 0 ? len + start : start;
        let e = end < 0 ? len + end : end;
        if (s < 0) s = 0;
        if (e < 0) e = 0;
        if (e >= len) e = len - 1;
        const kind = this.#kinds & 3;
        if (len === 0 || s > e) return kind === KIND_BYTES ? Buffer.alloc(0) : '';
        return this.#bytesOut(kind, s, e + 1);
      }
    }
  }

  // ---- the lookup ---------------------------------------------------------------------------

  #prepare(key: string): void {
    this.#enc.encode(key);
    this.#hash = indexHash(this.#enc.bytes, 0, this.#enc.length);
    this.#part = C_PARTS_AT + (this.#hash >>> PART_SHIFT) * PART_WORDS;
  }

  /** Reads the generations and the key's stripe version; false when one is odd (a change is under way). */
  #begin(): boolean {
    const g = Atomics.load(this.#ctl, C_GEN);
    if ((g & 1) !== 0 || this.#ctl[C_STATE] === CLOSED_STATE) return false;
    const pg = Atomics.load(this.#ctl, this.#part + P_GEN);
    if ((pg & 1) !== 0) return false;
    const v = Atomics.load(this.#ctl, C_STRIPES_AT + (this.#hash >>> STRIPE_SHIFT));
    if ((v & 1) !== 0) return false;
    this.#gen = g;
    this.#partGen = pg;
    this.#version = v;
    return true;
  }

  /** True when nothing the read depended on changed since #begin(). */
  #valid(): boolean {
    return (
      Atomics.load(this.#ctl, C_STRIPES_AT + (this.#hash >>> STRIPE_SHIFT)) === this.#version &&
      Atomics.load(this.#ctl, this.#part + P_GEN) === this.#partGen &&
      Atomics.load(this.#ctl, C_GEN) === this.#gen
    );
  }

  #done<T>(slot: number, out: T): T {
    this.reads++;
    if (slot >= 0) {
      this.hits++;
      // Record the access for the owner's LRU sampling: a relaxed store, only when the clock moved.
      const clock = this.#ctl[C_CLOCK]!;
      const at = slot * SLOT_WORDS + S_CLOCK;
      if (this.#slotW[at] !== clock) this.#slotW[at] = clock;
    }
    return out;
  }

  /**
   * The key's slot (its block located in #seg/#at/#klen/#vlen/#kinds), MISS, or TORN when a
   * word read was out of bounds (the owner moved on mid-read: try again).
   */
  #find(): number {
    const off = this.#ctl[this.#part + P_OFF]!;
    const mask = this.#ctl[this.#part + P_MASK]!;
    if (off + (mask + 1) * 2 > this.#index.length) this.#remap();
    const index = this.#index;
    const tag = this.#hash | 0;
    let b = this.#hash & mask;
    for (let n = 0; n <= mask; n++) {
      const w = off + b * 2;
      if (w + 1 >= index.length) return TORN;
      const s1 = index[w + 1]!;
      if (s1 === 0) return MISS;
      if (s1 > 0 && index[w] === tag) {
        const found = this.#match(s1 - 1);
        if (found !== MISS) return found;
      }
      b = (b + 1) & mask;
    }
    return MISS;
  }

  /** Whether `slot` holds the key: its slot, MISS, or TORN. */
  #match(slot: number): number {
    const sw = slot * SLOT_WORDS;
    if (sw + SLOT_WORDS > this.#slotW.length) {
      this.#remap();
      if (sw + SLOT_WORDS > this.#slotW.length) return TORN;
    }
    const ref = this.#slotW[sw + S_REF]! >>> 0;
    const seg = ref >>> REF_OFFSET_BITS;
    if (seg >= this.#segs.length) return this.#ctl[C_SEGMENTS]! > this.#segs.length ? TORN : MISS;
    const at = (ref & REF_OFFSET_MASK) * 16;
    let buf = this.#segs[seg]!;
    if (at + BLOCK_HEADER > buf.length) {
      this.#remap();
      buf = this.#segs[seg]!;
      if (at + BLOCK_HEADER > buf.length) return TORN;
    }
    let words = this.#segW[seg]!;
    const w = at >>> 2;
    const klen = words[w + B_KEY_LEN]!;
    const vlen = words[w + B_VALUE_LEN]!;
    const size = words[w + B_UNITS]! * 16;
    if (klen + vlen + BLOCK_HEADER > size) return TORN;
    if (at + size > buf.length) {
      this.#remap();
      buf = this.#segs[seg]!;
      words = this.#segW[seg]!;
      if (at + size > buf.length) return TORN;
    }
    const key = this.#enc;
    if (klen !== key.length) return MISS;
    const from = at + BLOCK_HEADER;
    if (klen <= 32) {
      const k = key.bytes;
      for (let i = 0; i < klen; i++) if (buf[from + i] !== k[i]) return MISS;
    } else if (key.bytes.compare(buf, from, from + klen, 0, klen) !== 0) return MISS;
    this.#seg = seg;
    this.#at = from + klen;
    this.#vlen = vlen;
    this.#kinds = words[w + B_KINDS]!;
    return slot;
  }

  #live(slot: number, now: number): boolean {
    const at = this.#slotF[slot * 2 + 1]!;
    return at === 0 || at > now;
  }

  /** Value bytes [s, e) as the value's kind: a string, or a Buffer copy (the memory will change). */
  #bytesOut(kind: number, s: number, e: number): string | Buffer {
    const buf = this.#segs[this.#seg]!;
    const from = this.#at;
    if (kind === KIND_ASCII) return buf.latin1Slice(from + s, from + e);
    if (kind === KIND_UTF8) return buf.toString('utf8', from + s, from + e);
    const out = Buffer.allocUnsafe(e - s);
    copyBytes(buf, from + s, from + e, out, 0);
    return out;
  }
}
