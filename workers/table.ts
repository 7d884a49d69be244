// The owner's side of a shard's shared memory (src/shared/layout.ts): the hash index, the slots
// and the arena's blocks, written only by the shard's thread while other threads read in place.
// Every change a reader could observe is bracketed by the key's stripe version (odd while it is
// made) or by the index generation; it never frees memory a reader may still be copying without
// bumping the version that reader will check (docs/shared-memory.md walks through the races).
// Over 400 lines: the allocator, the index and the block codec share the same words and rules.
import { CacheError } from '../src/errors.js';
import {
  B_KEY_LEN,
  B_KINDS,
  B_UNITS,
  B_VALUE_LEN,
  BLOCK_HEADER,
  blockUnits,
  bufferView,
  C_CLOCK,
  C_GEN,
  C_PARTS_AT,
  C_SEGMENTS,
  C_STATE,
  C_STRIPES_AT,
  CLOSED_STATE,
  copyBytes,
  createShardMemory,
  float64View,
  INITIAL_INDEX_WORDS,
  indexHash,
  int32View,
  KEY_BINARY,
  KeyEncoder,
  KIND_ASCII,
  KIND_BYTES,
  KIND_UTF8,
  MAX_BUFFER_BYTES,
  MAX_SEGMENTS,
  newSegment,
  P_GEN,
  P_MASK,
  P_OFF,
  PART_MIN_BUCKETS,
  PART_SHIFT,
  PART_WORDS,
  PARTS,
  REF_OFFSET_BITS,
  REF_OFFSET_MASK,
  resetParts,
  S_CLOCK,
  S_REF,
  SLOT_BYTES,
  SLOT_WORDS,
  type ShardMemory,
  STRIPE_SHIFT,
  uint32View,
} from '../src/shared/layout.js';
import { growSlotArray, slotArray } from './slot-arrays.js';

/** A stored value: strings stay strings, bytes stay bytes (an exact-size Uint8Array). */
export type Value = string | Uint8Array;

/** Live plus deleted buckets over buckets that makes the index grow (or clean itself). */
const MAX_LOAD = 0.75;

/** The index, slots and arena of one shard, as its owner sees them. */
export class SharedTable {
  readonly memory: ShardMemory;
  /** The last key find() looked up, as bytes: insert() stores exactly these. */
  readonly enc = new KeyEncoder();
  /** find()'s key's index hash. */
  hash = 0;
  /** Called with every segment created after the first, for the owner to announce to readers. */
  onSegment: ((segment: SharedArrayBuffer) => void) | null = null;
  #ctl: Int32Array;
  #index: Int32Array;
  #slotW: Int32Array;
  #slotF: Float64Array;
  #segs: Buffer[] = [];
  #segW: Uint32Array[] = [];
  #segTop: number[] = [];
  /** Free blocks by size in 16-byte units: refs to reuse. */
  #free = new Map<number, number[]>();
  /** Per slot, owner-only: the key's index hash, its bucket, and the ring hash the caller gave. */
  #idxHash: Int32Array;
  #bucket: Int32Array;
  #ringHash: Int32Array;
  #freeSlots: number[] = [];
  #top = 0;
  #cap: number;
  #live = 0;
  /** Per index part: live keys, and buckets live or deleted (a deleted bucket lengthens probes until the part's next rebuild). */
  #partLive = new Int32Array(PARTS);
  #partUsed = new Int32Array(PARTS);
  /** Index words in use up to here; regions of older tables below it, by size, free for a later rebuild. */
  #indexTop = INITIAL_INDEX_WORDS;
  #regions = new Map<number, number[]>();
  /** Where the find() that missed could insert: the first deleted bucket on the probe, or the empty one that ended it. */
  #spot = -1;
  #spotWasEmpty = false;
  /** The key and slot the last find() was for. */
  #lastKey: string | null = null;
  #foundSlot = -1;
  #arenaBytes = 0;

  constructor(memory: ShardMemory = createShardMemory()) {
    this.memory = memory;
    this.#ctl = new Int32Array(memory.control);
    this.#index = int32View(memory.index);
    this.#slotW = int32View(memory.slots);
    this.#slotF = float64View(memory.slots);
    for (const s of memory.segments) {
      this.#segs.push(bufferView(s));
      this.#segW.push(uint32View(s));
      this.#segTop.push(16);
    }
    this.#cap = memory.slots.byteLength / SLOT_BYTES;
    this.#idxHash = slotArray(this.#cap);
    this.#bucket = slotArray(this.#cap);
    this.#ringHash = slotArray(this.#cap);
  }

  /** Live keys. */
  get size(): number {
    return this.#live;
  }

  /** Slots the owner's per-slot arrays hold (a caller keeping its own per-slot arrays sizes them so). */
  get capacity(): number {
    return this.#cap;
  }

  /** One past the highest slot in use. */
  get slots(): number {
    return this.#top;
  }

  /** Bytes of shared memory reserved: arena segments as far as they are used, slots and the index. */
  get reservedBytes(): number {
    let n = this.memory.index.byteLength + this.memory.slots.byteLength;
    for (const s of this.memory.segments) n += s.byteLength;
    return n;
  }

  /** Arena bytes handed out to blocks, free blocks included (fragmentation). */
  get arenaBytes(): number {
    return this.#arenaBytes;
  }

  // ---- lookups (owner side: no validation needed, nothing else writes) -------------------------

  /** The slot holding `key`, or -1; leaves the key's bytes and hash for an insert() that follows. */
  find(key: string): number {
    this.#lastKey = key;
    this.#foundSlot = -1;
    this.enc.encode(key);
    const h = indexHash(this.enc.bytes, 0, this.enc.length);
    this.hash = h;
    const index = this.#index;
    const part = C_PARTS_AT + (h >>> PART_SHIFT) * PART_WORDS;
    const off = this.#ctl[part + P_OFF]!;
    const mask = this.#ctl[part + P_MASK]!;
    const tag = h | 0;
    this.#spot = -1;
    let b = h & mask;
    for (let n = 0; n <= mask; n++) {
      const w = off + b * 2;
      const s1 = index[w + 1]!;
      if (s1 === 0) {
        if (this.#spot < 0) {
          this.#spot = b;
          this.#spotWasEmpty = true;
        }
        return -1;
      }
      if (s1 < 0) {
        if (this.#spot < 0) {
          this.#spot = b;
          this.#spotWasEmpty = false;
        }
      } else if (index[w] === tag && this.#sameKey(s1 - 1)) {
        this.#foundSlot = s1 - 1;
        return s1 - 1;
      }
      b = (b + 1) & mask;
    }
    return -1;
  }

  #sameKey(slot: number): boolean {
    const ref = this.#slotW[slot * SLOT_WORDS + S_REF]! >>> 0;
    const seg = ref >>> REF_OFFSET_BITS;
    const at = (ref & REF_OFFSET_MASK) * 16;
    const words = this.#segW[seg]!;
    const klen = words[(at >>> 2) + B_KEY_LEN]!;
    if (klen !== this.enc.length) return false;
    const buf = this.#segs[seg]!;
    const from = at + BLOCK_HEADER;
    if (klen <= 32) {
      const k = this.enc.bytes;
      for (let i = 0; i < klen; i++) if (buf[from + i] !== k[i]) return false;
      return true;
    }
    return this.enc.bytes.compare(buf, from, from + klen, 0, klen) === 0;
  }

  // ---- writes ---------------------------------------------------------------------------------

  /**
   * Stores a new key: the one the last find() missed (its bytes are still in `enc`), with its
   * ring hash. Throws OOM when shared memory cannot grow. Returns the slot.
   */
  insert(key: string, value: Value, vlen: number, ringHash: number, expireAt: number): number {
    if (key !== this.#lastKey && this.find(key) >= 0) throw new Error('insert of a key that is stored');
    const p = this.hash >>> PART_SHIFT;
    const part = C_PARTS_AT + p * PART_WORDS;
    if (this.#spot < 0 || (this.#spotWasEmpty && (this.#partUsed[p]! + 1) / (this.#ctl[part + P_MASK]! + 1) > MAX_LOAD)) {
      this.#rebuild(p, this.#partLive[p]! + 1);
      this.#locate();
    }
    const kind = valueKind(value, vlen);
    const klen = this.enc.length;
    const units = blockUnits(BLOCK_HEADER + klen + vlen);
    const ref = this.#alloc(units);
    const slot = this.#allocSlot();
    const seg = ref >>> REF_OFFSET_BITS;
    const at = (ref & REF_OFFSET_MASK) * 16;
    const words = this.#segW[seg]!;
    const w = at >>> 2;
    words[w + B_KEY_LEN] = klen;
    words[w + B_VALUE_LEN] = vlen;
    words[w + B_KINDS] = kind | (this.enc.binary ? KEY_BINARY : 0);
    words[w + B_UNITS] = units;
    const buf = this.#segs[seg]!;
    copyBytes(this.enc.bytes, 0, klen, buf, at + BLOCK_HEADER);
    writeValue(buf, at + BLOCK_HEADER + klen, value, kind, vlen);
    const sw = slot * SLOT_WORDS;
    this.#slotW[sw + S_REF] = ref;
    this.#slotW[sw + S_CLOCK] = this.#ctl[C_CLOCK]!;
    this.#slotF[slot * 2 + 1] = expireAt;
    this.#idxHash[slot] = this.hash;
    this.#ringHash[slot] = ringHash;
    const b = this.#spot;
    this.#bucket[slot] = b;
    const iw = this.#ctl[part + P_OFF]! + b * 2;
    // Not reachable before the bucket names it; the bucket's two words change under the stripe.
    this.#lock(this.hash);
    this.#index[iw] = this.hash | 0;
    this.#index[iw + 1] = slot + 1;
    this.#unlock(this.hash);
    if (this.#spotWasEmpty) this.#partUsed[p]!++;
    this.#partLive[p]!++;
    this.#spot = -1;
    this.#lastKey = null;
    this.#live++;
    return slot;
  }

  /**
   * Replaces a slot's value (in its block when the size allows, else in a new block) and its
   * expiry (`expireAt` < 0: kept), together for readers. Throws OOM.
   */
  replace(slot: number, value: Value, vlen: number, expireAt: number): void {
    const kind = valueKind(value, vlen);
    const sw = slot * SLOT_WORDS;
    const ref = this.#slotW[sw + S_REF]! >>> 0;
    const seg = ref >>> REF_OFFSET_BITS;
    const at = (ref & REF_OFFSET_MASK) * 16;
    const words = this.#segW[seg]!;
    const w = at >>> 2;
    const klen = words[w + B_KEY_LEN]!;
    const units = words[w + B_UNITS]!;
    const need = blockUnits(BLOCK_HEADER + klen + vlen);
    const h = this.#idxHash[slot]!;
    if (need === units) {
      this.#lock(h);
      words[w + B_VALUE_LEN] = vlen;
      words[w + B_KINDS] = kind | (words[w + B_KINDS]! & KEY_BINARY);
      writeValue(this.#segs[seg]!, at + BLOCK_HEADER + klen, value, kind, vlen);
      if (expireAt >= 0) this.#slotF[slot * 2 + 1] = expireAt;
      this.#unlock(h);
      return;
    }
    const next = this.#alloc(need);
    const nseg = next >>> REF_OFFSET_BITS;
    const nat = (next & REF_OFFSET_MASK) * 16;
    const nwords = this.#segW[nseg]!;
    const nw = nat >>> 2;
    nwords[nw + B_KEY_LEN] = klen;
    nwords[nw + B_VALUE_LEN] = vlen;
    nwords[nw + B_KINDS] = kind | (words[w + B_KINDS]! & KEY_BINARY);
    nwords[nw + B_UNITS] = need;
    const nbuf = this.#segs[nseg]!;
    copyBytes(this.#segs[seg]!, at + BLOCK_HEADER, at + BLOCK_HEADER + klen, nbuf, nat + BLOCK_HEADER);
    writeValue(nbuf, nat + BLOCK_HEADER + klen, value, kind, vlen);
    this.#lock(h);
    this.#slotW[sw + S_REF] = next;
    if (expireAt >= 0) this.#slotF[slot * 2 + 1] = expireAt;
    this.#unlock(h);
    // A reader still copying the old block began before the lock above: its check fails.
    this.#freeBlock(ref, units);
  }

  /** Deletes a slot's key. */
  remove(slot: number): void {
    const sw = slot * SLOT_WORDS;
    const ref = this.#slotW[sw + S_REF]! >>> 0;
    const units = this.#segW[ref >>> REF_OFFSET_BITS]![((ref & REF_OFFSET_MASK) * 16) / 4 + B_UNITS]!;
    const h = this.#idxHash[slot]!;
    const iw = this.#ctl[C_PARTS_AT + (h >>> PART_SHIFT) * PART_WORDS + P_OFF]! + this.#bucket[slot]! * 2;
    this.#lock(h);
    this.#index[iw + 1] = -1;
    this.#slotW[sw + S_REF] = 0;
    this.#slotF[slot * 2 + 1] = 0;
    this.#unlock(h);
    this.#freeBlock(ref, units);
    this.#freeSlots.push(slot);
    this.#live--;
    this.#partLive[h >>> PART_SHIFT]!--;
    if (slot === this.#foundSlot) {
      // The key the last find() found is gone (it expired): an insert of it may take its bucket.
      this.#foundSlot = -1;
      if (this.#spot < 0) {
        this.#spot = this.#bucket[slot]!;
        this.#spotWasEmpty = false;
      }
    }
  }

  /** Sets a slot's absolute expiry in ms (0 = none). */
  setExpiry(slot: number, at: number): void {
    if (this.#slotF[slot * 2 + 1] === at) return;
    const h = this.#idxHash[slot]!;
    this.#lock(h);
    this.#slotF[slot * 2 + 1] = at;
    this.#unlock(h);
  }

  /** Empties the table (FLUSHALL): readers see the generation move and ask again. */
  clear(): void {
    Atomics.add(this.#ctl, C_GEN, 1);
    this.#index.fill(0, 0, INITIAL_INDEX_WORDS);
    resetParts(this.#ctl);
    this.#indexTop = INITIAL_INDEX_WORDS;
    this.#regions.clear();
    this.#partLive.fill(0);
    this.#partUsed.fill(0);
    this.#slotW.fill(0, 0, this.#top * SLOT_WORDS);
    this.#free.clear();
    this.#freeSlots = [];
    this.#spot = -1;
    this.#lastKey = null;
    this.#foundSlot = -1;
    for (let i = 0; i < this.#segTop.length; i++) this.#segTop[i] = 16;
    this.#arenaBytes = 0;
    this.#top = 0;
    this.#live = 0;
    Atomics.add(this.#ctl, C_GEN, 1);
  }

  /** Tells readers this memory is served no more (the shard is closing or the memory was replaced). */
  close(): void {
    Atomics.store(this.#ctl, C_STATE, CLOSED_STATE);
  }

  /** Advances the access clock readers copy into the slots they read. */
  setClock(clock: number): void {
    if (this.#ctl[C_CLOCK] !== clock) Atomics.store(this.#ctl, C_CLOCK, clock);
  }

  get clock(): number {
    return this.#ctl[C_CLOCK]!;
  }

  // ---- slot reads (owner side) ----------------------------------------------------------------

  /** True when the slot holds a key. */
  has(slot: number): boolean {
    return slot < this.#top && this.#slotW[slot * SLOT_WORDS + S_REF] !== 0;
  }

  expiry(slot: number): number {
    return this.#slotF[slot * 2 + 1]!;
  }

  /** The slot's access clock: the last clock a reader or the owner touched it at. */
  accessClock(slot: number): number {
    return this.#slotW[slot * SLOT_WORDS + S_CLOCK]!;
  }

  /** Records an access by the owner. */
  touch(slot: number): void {
    this.#slotW[slot * SLOT_WORDS + S_CLOCK] = this.#ctl[C_CLOCK]!;
  }

  ringHash(slot: number): number {
    return this.#ringHash[slot]! >>> 0;
  }

  /** The bytes a slot takes in the arena (its block, 16-byte rounding included). */
  blockBytes(slot: number): number {
    const ref = this.#slotW[slot * SLOT_WORDS + S_REF]! >>> 0;
    return this.#segW[ref >>> REF_OFFSET_BITS]![((ref & REF_OFFSET_MASK) * 16) / 4 + B_UNITS]! * 16;
  }

  /** The key's length in bytes. */
  keyLength(slot: number): number {
    const [, , words, w] = this.#block(slot);
    return words[w + B_KEY_LEN]!;
  }

  /** The slot's key in its internal form. */
  keyOf(slot: number): string {
    const [buf, at, words, w] = this.#block(slot);
    const klen = words[w + B_KEY_LEN]!;
    const from = at + BLOCK_HEADER;
    if ((words[w + B_KINDS]! & KEY_BINARY) !== 0) return `\uDC00${buf.latin1Slice(from, from + klen)}`;
    return buf.toString('utf8', from, from + klen);
  }

  /** The slot's value as the store hands it out (a string, or a Uint8Array of its own). */
  valueOf(slot: number): Value {
    const [buf, at, words, w] = this.#block(slot);
    const from = at + BLOCK_HEADER + words[w + B_KEY_LEN]!;
    const end = from + words[w + B_VALUE_LEN]!;
    const kind = words[w + B_KINDS]! & 3;
    if (kind === KIND_ASCII) return buf.latin1Slice(from, end);
    if (kind === KIND_UTF8) return buf.toString('utf8', from, end);
    return new Uint8Array(buf.subarray(from, end));
  }

  /** The value's bytes, as a view valid until the next write (no copy). */
  valueBytes(slot: number): Buffer {
    const [buf, at, words, w] = this.#block(slot);
    const from = at + BLOCK_HEADER + words[w + B_KEY_LEN]!;
    return buf.subarray(from, from + words[w + B_VALUE_LEN]!);
  }

  /** The value's bytes as latin1 text (what number parsing reads). */
  valueText(slot: number): string {
    const b = this.valueBytes(slot);
    return b.latin1Slice(0, b.length);
  }

  /** The value's length in bytes. */
  valueLength(slot: number): number {
    const [, , words, w] = this.#block(slot);
    return words[w + B_VALUE_LEN]!;
  }

  /** True when the value is held as text (a string), false for bytes. */
  isText(slot: number): boolean {
    const [, , words, w] = this.#block(slot);
    return (words[w + B_KINDS]! & 3) !== KIND_BYTES;
  }

  #block(slot: number): [Buffer, number, Uint32Array, number] {
    const ref = this.#slotW[slot * SLOT_WORDS + S_REF]! >>> 0;
    const seg = ref >>> REF_OFFSET_BITS;
    const at = (ref & REF_OFFSET_MASK) * 16;
    return [this.#segs[seg]!, at, this.#segW[seg]!, at >>> 2];
  }

  // ---- machinery ------------------------------------------------------------------------------

  #lock(h: number): void {
    Atomics.add(this.#ctl, C_STRIPES_AT + (h >>> STRIPE_SHIFT), 1);
  }

  #unlock(h: number): void {
    Atomics.add(this.#ctl, C_STRIPES_AT + (h >>> STRIPE_SHIFT), 1);
  }

  /** Finds the insert spot for `enc`'s key again (after a rebuild). */
  #locate(): void {
    const index = this.#index;
    const part = C_PARTS_AT + (this.hash >>> PART_SHIFT) * PART_WORDS;
    const off = this.#ctl[part + P_OFF]!;
    const mask = this.#ctl[part + P_MASK]!;
    let b = this.hash & mask;
    while (index[off + b * 2 + 1] !== 0) b = (b + 1) & mask;
    this.#spot = b;
    this.#spotWasEmpty = true;
  }

  /**
   * Builds part `p` a fresh table for `keys` keys (deleted buckets dropped) from its live one and
   * switches to it under the part's generation: only that part's keys move (1/PARTS of them), so
   * no rebuild stalls the shard for long. The new table takes a region no live table uses: one an
   * older table left (only readers of an older generation of that part can still be in it, and
   * their check fails) or the end of the buffer; the old region is kept for a later rebuild.
   */
  #rebuild(p: number, keys: number): void {
    const part = C_PARTS_AT + p * PART_WORDS;
    let buckets = PART_MIN_BUCKETS;
    while (keys / buckets > MAX_LOAD / 2) buckets *= 2;
    const words = buckets * 2;
    const free = this.#regions.get(words);
    let start = free?.pop();
    if (start === undefined) {
      start = this.#indexTop;
      this.#ensure(this.memory.index, (start + words) * 4);
      this.#indexTop = start + words;
    }
    const index = this.#index;
    index.fill(0, start, start + words);
    const mask = buckets - 1;
    const oldOff = this.#ctl[part + P_OFF]!;
    const oldWords = (this.#ctl[part + P_MASK]! + 1) * 2;
    for (let w = oldOff; w < oldOff + oldWords; w += 2) {
      const s1 = index[w + 1]!;
      if (s1 <= 0) continue;
      const slot = s1 - 1;
      const h = this.#idxHash[slot]!;
      let b = h & mask;
      while (index[start + b * 2 + 1] !== 0) b = (b + 1) & mask;
      index[start + b * 2] = h | 0;
      index[start + b * 2 + 1] = s1;
      this.#bucket[slot] = b;
    }
    Atomics.add(this.#ctl, part + P_GEN, 1);
    this.#ctl[part + P_OFF] = start;
    this.#ctl[part + P_MASK] = mask;
    Atomics.add(this.#ctl, part + P_GEN, 1);
    let list = this.#regions.get(oldWords);
    if (list === undefined) {
      list = [];
      this.#regions.set(oldWords, list);
    }
    list.push(oldOff);
    this.#partUsed[p] = this.#partLive[p]!;
  }

  #allocSlot(): number {
    const reused = this.#freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.#top === this.#cap) this.#growSlots();
    return this.#top++;
  }

  #growSlots(): void {
    const cap = this.#cap * 2;
    this.#ensure(this.memory.slots, cap * SLOT_BYTES);
    this.#idxHash = growSlotArray(this.#idxHash, cap);
    this.#bucket = growSlotArray(this.#bucket, cap);
    this.#ringHash = growSlotArray(this.#ringHash, cap);
    this.#cap = cap;
  }

  /** Grows a shared buffer to at least `bytes` (doubling), or throws OOM. */
  #ensure(sab: SharedArrayBuffer, bytes: number): void {
    if (sab.byteLength >= bytes) return;
    if (bytes > MAX_BUFFER_BYTES) throw oom('a shard table reached 4 GiB');
    try {
      sab.grow(Math.min(MAX_BUFFER_BYTES, Math.max(bytes, sab.byteLength * 2)));
    } catch {
      try {
        sab.grow(bytes);
      } catch {
        throw oom('the machine refused more shared memory');
      }
    }
    this.#remap();
  }

  /** Views as long as the buffers are now (after one grew). */
  #remap(): void {
    const m = this.memory;
    this.#index = int32View(m.index);
    this.#slotW = int32View(m.slots);
    this.#slotF = float64View(m.slots);
    for (let i = 0; i < m.segments.length; i++) {
      this.#segs[i] = bufferView(m.segments[i]!);
      this.#segW[i] = uint32View(m.segments[i]!);
    }
  }

  /** A block of `units` × 16 bytes: a freed one of that size, else the arena's end. Throws OOM. */
  #alloc(units: number): number {
    const list = this.#free.get(units);
    if (list !== undefined && list.length > 0) return list.pop()!;
    const bytes = units * 16;
    let seg = this.#segTop.length - 1;
    if (this.#segTop[seg]! + bytes > MAX_BUFFER_BYTES) {
      if (seg + 1 >= MAX_SEGMENTS) throw oom('the shard arena is full');
      this.#addSegment(bytes);
      seg++;
    }
    const top = this.#segTop[seg]!;
    const sab = this.memory.segments[seg]!;
    if (top + bytes > sab.byteLength) this.#ensure(sab, top + bytes);
    this.#segTop[seg] = top + bytes;
    this.#arenaBytes += bytes;
    return ((seg << REF_OFFSET_BITS) | (top / 16)) >>> 0;
  }

  #addSegment(bytes: number): void {
    let sab: SharedArrayBuffer;
    try {
      sab = newSegment(Math.max(1 << 20, bytes + 16));
    } catch {
      throw oom('the machine refused more shared memory');
    }
    this.memory.segments.push(sab);
    this.#segs.push(bufferView(sab));
    this.#segW.push(uint32View(sab));
    this.#segTop.push(16);
    Atomics.store(this.#ctl, C_SEGMENTS, this.memory.segments.length);
    this.onSegment?.(sab);
  }

  #freeBlock(ref: number, units: number): void {
    let list = this.#free.get(units);
    if (list === undefined) {
      list = [];
      this.#free.set(units, list);
    }
    list.push(ref);
  }
}

/** How a value's `vlen` bytes become a value again: ASCII text, other text, or bytes. */
function valueKind(value: Value, vlen: number): number {
  if (typeof value !== 'string') return KIND_BYTES;
  return vlen === value.length ? KIND_ASCII : KIND_UTF8;
}

function writeValue(buf: Buffer, at: number, value: Value, kind: number, vlen: number): void {
  if (kind === KIND_BYTES) copyBytes(value as Uint8Array, 0, vlen, buf, at);
  else if (kind === KIND_ASCII) buf.write(value as string, at, vlen, 'latin1');
  else buf.write(value as string, at, vlen, 'utf8');
}

function oom(why: string): CacheError {
  return new CacheError('OOM', `command not allowed: out of memory (${why})`);
}
