// The RDB format, as far as a full resync needs it: a header, string keys with their absolute
// expiry in ms, and the end marker with Redis's CRC-64 (Jones) of everything before it. Version 9
// holds everything written here, and every Redis from 5.0 on loads it.
import type { ByteWriter } from './bytes.js';

export const RDB_VERSION = 9;

/** Opcodes and types used. */
export const RDB = {
  AUX: 0xfa,
  RESIZEDB: 0xfb,
  EXPIRETIME_MS: 0xfc,
  EXPIRETIME: 0xfd,
  SELECTDB: 0xfe,
  EOF: 0xff,
  TYPE_STRING: 0,
} as const;

/** An RDB length: 6-bit, 14-bit, 32-bit or 64-bit form. */
export function writeLength(w: ByteWriter, n: number): void {
  if (n < 0x40) w.byte(n);
  else if (n < 0x4000) {
    w.byte(0x40 | (n >> 8));
    w.byte(n & 0xff);
  } else if (n <= 0xffffffff) {
    w.byte(0x80);
    w.u32be(n);
  } else {
    w.byte(0x81);
    w.u64(n, false);
  }
}

/** A length-prefixed string (never the integer or LZF encodings, which are optional). */
export function writeString(w: ByteWriter, s: string | Uint8Array): void {
  if (typeof s === 'string') {
    const n = Buffer.byteLength(s);
    writeLength(w, n);
    w.utf8(s);
  } else {
    writeLength(w, s.length);
    w.bytes(s);
  }
}

/** One string key: its expiry (absolute ms, 0 = none), type, key and value. */
export function writeEntry(w: ByteWriter, key: Uint8Array, value: string | Uint8Array, expireAt: number): void {
  if (expireAt > 0) {
    w.byte(RDB.EXPIRETIME_MS);
    w.u64(expireAt, true);
  }
  w.byte(RDB.TYPE_STRING);
  writeString(w, key);
  writeString(w, value);
}

/** The file's start: magic and version, a few AUX fields, database 0 (no RESIZEDB: its sizes are a hint, unknown while shards are dumped). */
export function writeHeader(w: ByteWriter, aux: Record<string, string>): void {
  w.ascii(`REDIS${String(RDB_VERSION).padStart(4, '0')}`);
  for (const [k, v] of Object.entries(aux)) {
    w.byte(RDB.AUX);
    writeString(w, k);
    writeString(w, v);
  }
  w.byte(RDB.SELECTDB);
  writeLength(w, 0);
}

// CRC-64 Jones as Redis computes it (polynomial 0xad93d23594c935a9, reflected: 0x95ac9329ac4bc9b5),
// on two 32-bit halves: BigInt per byte is slow.
const TABLE_LO = new Uint32Array(256);
const TABLE_HI = new Uint32Array(256);
{
  const polyLo = 0xac4bc9b5;
  const polyHi = 0x95ac9329;
  for (let i = 0; i < 256; i++) {
    let lo = i;
    let hi = 0;
    for (let b = 0; b < 8; b++) {
      const odd = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (odd) {
        lo = (lo ^ polyLo) >>> 0;
        hi = (hi ^ polyHi) >>> 0;
      }
    }
    TABLE_LO[i] = lo;
    TABLE_HI[i] = hi;
  }
}

/** A running CRC-64 (Jones): feed bytes in pieces, read it as 8 little-endian bytes. */
export class Crc64 {
  #lo = 0;
  #hi = 0;

  update(b: Uint8Array): void {
    let lo = this.#lo;
    let hi = this.#hi;
    for (let i = 0; i < b.length; i++) {
      const idx = (lo ^ b[i]!) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ TABLE_LO[idx]!) >>> 0;
      hi = ((hi >>> 8) ^ TABLE_HI[idx]!) >>> 0;
    }
    this.#lo = lo;
    this.#hi = hi;
  }

  /** As Redis writes it after the EOF opcode. */
  bytes(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32LE(this.#lo, 0);
    out.writeUInt32LE(this.#hi, 4);
    return out;
  }

  /** As a hex number (for tests against the standard check value). */
  hex(): string {
    return this.#hi.toString(16).padStart(8, '0') + this.#lo.toString(16).padStart(8, '0');
  }
}
