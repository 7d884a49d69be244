// The wire form of migrating entries: one ArrayBuffer, transferred (not cloned) from the source
// shard through the coordinator to the destination, so a move costs the coordinator's thread
// nothing per entry. Strings travel as UTF-16 code units, which keeps any JS string exact
// (including the lone-surrogate mark of binary keys, src/keys.ts).
//
// Layout (little endian): u32 count, u32 next (where a chunked export continues; DONE when it
// is complete), then per entry:
//   u32 key length (code units), key (UTF-16LE), u8 kind (0 string, 1 bytes),
//   u32 value length (code units or bytes), value, f64 absolute expiry (0 = none).
import type { Value } from './store.js';

import { CHUNKS_DONE } from '../src/protocol.js';

/** `next` of the last chunk of a range. */
export const DONE = CHUNKS_DONE;

/** Encodes flat [key, value, expireAt, ...] entries into one transferable buffer. */
export function encodeEntries(entries: unknown[], next = DONE): ArrayBuffer {
  let size = 8;
  for (let i = 0; i < entries.length; i += 3) {
    const v = entries[i + 1] as Value;
    size += 4 + (entries[i] as string).length * 2 + 1 + 4 + (typeof v === 'string' ? v.length * 2 : v.byteLength) + 8;
  }
  const buf = Buffer.allocUnsafeSlow(size);
  buf.writeUInt32LE(entries.length / 3, 0);
  let o = buf.writeUInt32LE(next, 4);
  for (let i = 0; i < entries.length; i += 3) {
    const key = entries[i] as string;
    const value = entries[i + 1] as Value;
    o = buf.writeUInt32LE(key.length, o);
    o += buf.write(key, o, 'utf16le');
    if (typeof value === 'string') {
      o = buf.writeUInt8(0, o);
      o = buf.writeUInt32LE(value.length, o);
      o += buf.write(value, o, 'utf16le');
    } else {
      o = buf.writeUInt8(1, o);
      o = buf.writeUInt32LE(value.byteLength, o);
      buf.set(value, o);
      o += value.byteLength;
    }
    o = buf.writeDoubleLE(entries[i + 2] as number, o);
  }
  return buf.buffer as ArrayBuffer;
}

/** How many entries a buffer holds (read without decoding it). */
export function entryCount(buf: ArrayBuffer): number {
  return buf.byteLength < 8 ? 0 : new DataView(buf).getUint32(0, true);
}

/** Where the next chunk of a range starts, or DONE. */
export function nextChunk(buf: ArrayBuffer): number {
  return buf.byteLength < 8 ? DONE : new DataView(buf).getUint32(4, true);
}

/** Calls `fn` for every entry of a buffer from encodeEntries. */
export function decodeEntries(ab: ArrayBuffer, fn: (key: string, value: Value, expireAt: number) => void): number {
  const buf = Buffer.from(ab);
  if (buf.length < 8) return 0;
  const count = buf.readUInt32LE(0);
  let o = 8;
  for (let n = 0; n < count; n++) {
    const klen = buf.readUInt32LE(o);
    o += 4;
    const key = buf.toString('utf16le', o, o + klen * 2);
    o += klen * 2;
    const kind = buf.readUInt8(o);
    const vlen = buf.readUInt32LE(o + 1);
    o += 5;
    let value: Value;
    if (kind === 0) {
      value = buf.toString('utf16le', o, o + vlen * 2);
      o += vlen * 2;
    } else {
      // An exact-size copy: a view would keep the whole migration buffer alive.
      value = new Uint8Array(vlen);
      value.set(buf.subarray(o, o + vlen));
      o += vlen;
    }
    const at = buf.readDoubleLE(o);
    o += 8;
    fn(key, value, at);
  }
  return count;
}
