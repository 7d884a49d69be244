// Per-slot arrays that only the owner reads (hashes, buckets, LRU links, the TTL list): Int32Arrays
// over resizable ArrayBuffers, grown in place. Never copied on growth, so a shard of tens of
// millions of keys does not stall for the second it takes to copy and zero doubled arrays.

/** Reserved (not committed) bytes per array: Node 20 refuses a maxByteLength past 2^32. */
const MAX_BYTES = 2 ** 32;

/** An Int32Array of `n` zeros that slotArray() can grow in place. */
export function slotArray(n: number): Int32Array {
  return new Int32Array(new ArrayBuffer(n * 4, { maxByteLength: MAX_BYTES }), 0, n);
}

/** `a` grown to `n` elements (the new ones zero), in place when its buffer allows. */
export function growSlotArray(a: Int32Array, n: number): Int32Array {
  const buf = a.buffer as ArrayBuffer;
  if (buf.resizable && n * 4 <= buf.maxByteLength) {
    buf.resize(n * 4);
    return new Int32Array(buf, 0, n);
  }
  const b = slotArray(n);
  b.set(a);
  return b;
}
