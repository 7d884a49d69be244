// The layout of a shard's shared memory: the words, offsets and rules that the owner (the shard's
// thread, workers/table.ts) writes by and every reader (src/shared/view.ts) reads by.
// It holds no state and never writes to a buffer; DESIGN §9 and docs/shared-memory.md say why it is shaped so.
//
// Four SharedArrayBuffers per shard, all created here:
//   control  fixed: header words, then STRIPES version words (seqlocks, even = stable).
//   index    growable: PARTS open-addressing tables (a key's part is its index hash's top bits), of
//            buckets of two Int32 words [tag, slot + 1] (0 empty, -1 deleted); part p's live table
//            starts at its P_OFF word (in words) and has P_MASK + 1 buckets. Parts grow one at a
//            time, so no rebuild ever moves more than 1/PARTS of the keys.
//   slots    growable: SLOT_WORDS Int32 words per slot [block ref, access clock, expiry as one Float64].
//   segments growable: the arena; blocks of BLOCK_HEADER bytes [key length, value length, kinds,
//            size in 16-byte units] + key bytes + value bytes, 16-byte aligned. A block ref is
//            (segment << 28) | (offset / 16): 16 segments of up to 4 GiB each per shard.
import type { ShardMemory } from '../protocol.js';

/** Header words of the control buffer. */
export const C_MAGIC = 0;
/** The whole index's generation: odd while the owner flushes; readers check it before and after. */
export const C_GEN = 1;
/** The owner's coarse access clock (LRU_CLOCK_MS units), which readers copy into a slot they read. */
export const C_CLOCK = 4;
/** 0 while the owner serves this memory; CLOSED_STATE once it never will again (readers stop using it). */
export const C_STATE = 5;
/** Segments the owner has created (readers that hold fewer ask the owner for refs beyond theirs). */
export const C_SEGMENTS = 6;
/** Index parts: a key's part is `hash >>> PART_SHIFT`. */
export const PART_BITS = 6;
export const PARTS = 1 << PART_BITS;
export const PART_SHIFT = 32 - PART_BITS;
/** First part's words: [generation (odd while the part switches tables), table offset, mask] per part. */
export const C_PARTS_AT = 16;
export const PART_WORDS = 3;
export const P_GEN = 0;
export const P_OFF = 1;
export const P_MASK = 2;
/** Buckets a part starts with. */
export const PART_MIN_BUCKETS = 16;
/** First stripe word. */
export const C_STRIPES_AT = C_PARTS_AT + PARTS * PART_WORDS;
/** Stripe version words: a key's stripe is its index hash's top STRIPE_BITS bits. */
export const STRIPE_BITS = 14;
export const STRIPES = 1 << STRIPE_BITS;
export const STRIPE_SHIFT = 32 - STRIPE_BITS;
export const CONTROL_BYTES = (C_STRIPES_AT + STRIPES) * 4;
export const MAGIC = 0x53434d31; // 'SCM1'
export const CLOSED_STATE = 1;

/** Int32 words per slot: [ref, access clock, expiry (Float64, ms since the epoch, 0 = none)]. */
export const SLOT_WORDS = 4;
export const SLOT_BYTES = SLOT_WORDS * 4;
/** The slot word holding the block ref; the access clock; the expiry's Float64 index is slot * 2 + 1. */
export const S_REF = 0;
export const S_CLOCK = 1;

/** Block header: four Uint32 words. */
export const BLOCK_HEADER = 16;
export const B_KEY_LEN = 0;
export const B_VALUE_LEN = 1;
export const B_KINDS = 2;
export const B_UNITS = 3;
/** Value kinds (B_KINDS bits 0–1): how the bytes become a value again. */
export const KIND_ASCII = 0;
export const KIND_UTF8 = 1;
export const KIND_BYTES = 2;
/** B_KINDS bit 2: the key's bytes are not UTF-8 (its internal form is BINARY_MARK + latin1). */
export const KEY_BINARY = 4;

/** A ref's offset part, in 16-byte units. */
export const REF_OFFSET_BITS = 28;
export const REF_OFFSET_MASK = (1 << REF_OFFSET_BITS) - 1;
export const MAX_SEGMENTS = 16;
/** Every growable buffer's reservation: Node 20 refuses a maxByteLength beyond 2^32. */
export const MAX_BUFFER_BYTES = 2 ** 32;
/** The access clock's unit. */
export const LRU_CLOCK_MS = 100;

export type { ShardMemory } from '../protocol.js';

/** Fresh, empty memory for one shard, with room for `slots` slots to start with. */
export function createShardMemory(slots = 1024): ShardMemory {
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const words = new Int32Array(control);
  words[C_MAGIC] = MAGIC;
  resetParts(words);
  words[C_SEGMENTS] = 1;
  return {
    control,
    index: new SharedArrayBuffer(INITIAL_INDEX_WORDS * 4, { maxByteLength: MAX_BUFFER_BYTES }),
    slots: new SharedArrayBuffer(slots * SLOT_BYTES, { maxByteLength: MAX_BUFFER_BYTES }),
    segments: [newSegment(1 << 20)],
  };
}

/** Index words the parts' first tables take, back to back from offset 0. */
export const INITIAL_INDEX_WORDS = PARTS * PART_MIN_BUCKETS * 2;

/** Points every part at its first table (which must be zeroed): part p at p × PART_MIN_BUCKETS buckets. */
export function resetParts(words: Int32Array): void {
  for (let p = 0; p < PARTS; p++) {
    const at = C_PARTS_AT + p * PART_WORDS;
    words[at + P_OFF] = p * PART_MIN_BUCKETS * 2;
    words[at + P_MASK] = PART_MIN_BUCKETS - 1;
  }
}

/** One arena segment of `bytes` to start with, growable to 4 GiB. */
export function newSegment(bytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(bytes, { maxByteLength: MAX_BUFFER_BYTES });
}

// Views of a growable buffer are made with a fixed length, as long as the buffer is now, and made
// again after it grows: V8 (Node 20) runs element access through length-tracking views about ten
// times slower than through fixed-length ones (measured), and these are the hot loops.

/** An Int32Array over all of `sab` as it is now. */
export function int32View(sab: SharedArrayBuffer): Int32Array {
  return new Int32Array(sab, 0, sab.byteLength >>> 2);
}

/** A Uint32Array over all of `sab` as it is now. */
export function uint32View(sab: SharedArrayBuffer): Uint32Array {
  return new Uint32Array(sab, 0, sab.byteLength >>> 2);
}

/** A Float64Array over all of `sab` as it is now. */
export function float64View(sab: SharedArrayBuffer): Float64Array {
  return new Float64Array(sab, 0, Math.floor(sab.byteLength / 8));
}

/** A Buffer over all of `sab` as it is now. */
export function bufferView(sab: SharedArrayBuffer): Buffer {
  return Buffer.from(sab, 0, sab.byteLength);
}

/**
 * Copies `src[from..to)` into `dst` at `at`. Buffer.prototype.copy takes a slow path (~4 µs)
 * when either side is over a SharedArrayBuffer (measured on Node 20); a loop is faster for the
 * short keys and values most entries have, TypedArray.prototype.set for the rest.
 */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  const n = to - from;
  if (n <= 64) for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  else dst.set(src.subarray(from, to), at);
}

/** True when `m` has the shape of a ShardMemory (a handle that crossed threads may have been tampered with). */
export function isShardMemory(m: unknown): m is ShardMemory {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Partial<ShardMemory>;
  return (
    x.control instanceof SharedArrayBuffer &&
    x.control.byteLength === CONTROL_BYTES &&
    new Int32Array(x.control)[C_MAGIC] === MAGIC &&
    x.index instanceof SharedArrayBuffer &&
    x.slots instanceof SharedArrayBuffer &&
    Array.isArray(x.segments) &&
    x.segments.length >= 1 &&
    x.segments.length <= MAX_SEGMENTS &&
    x.segments.every((s) => s instanceof SharedArrayBuffer)
  );
}

/**
 * A block's size in 16-byte units for `bytes` (header included): exact to 16 bytes up to 256,
 * then in steps of an eighth of the power of two below, so a block wastes at most 12.5% and
 * freed blocks of one size serve later writes of about that size.
 */
export function blockUnits(bytes: number): number {
  if (bytes <= 256) return Math.max(1, Math.ceil(bytes / 16));
  const top = 2 ** Math.floor(Math.log2(bytes));
  const step = top / 8;
  return (Math.ceil(bytes / step) * step) / 16;
}

/**
 * The index hash of a key's bytes `b[start..end)` (MurmurHash3's 32-bit mixing): owner and
 * readers must compute the same, so this is the only one. Independent of the ring's hash, which
 * tests replace with weak ones.
 */
export function indexHash(b: Uint8Array, start: number, end: number): number {
  let h = (end - start) ^ 0x9747b28c;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = end - i;
  if (rest > 0) {
    let k = b[i]!;
    if (rest > 1) k |= b[i + 1]! << 8;
    if (rest > 2) k |= b[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Scratch for encoding keys; longer keys get a buffer of their own. */
const SCRATCH_BYTES = 64 * 1024;

/**
 * Encodes internal keys to their bytes in a reused buffer (one per thread and user: the owner
 * and each reader keep their own). After `encode(key)`, `bytes[0..length)` are the key's bytes.
 */
export class KeyEncoder {
  bytes: Buffer = Buffer.allocUnsafe(SCRATCH_BYTES);
  length = 0;
  /** True when the key's bytes are not UTF-8 (its internal form starts with BINARY_MARK). */
  binary = false;

  encode(key: string): void {
    if (key.charCodeAt(0) === 0xdc00) {
      this.binary = true;
      const n = key.length - 1;
      if (n > this.bytes.length) this.bytes = Buffer.allocUnsafe(n);
      this.length = this.bytes.write(key.slice(1), 0, 'latin1');
      return;
    }
    this.binary = false;
    if (key.length * 3 > this.bytes.length) {
      const n = Buffer.byteLength(key, 'utf8');
      if (n > this.bytes.length) this.bytes = Buffer.allocUnsafe(n);
    }
    this.length = this.bytes.write(key, 0, 'utf8');
  }
}
