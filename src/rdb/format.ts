// The RDB format's writing side, as far as a full resync needs it: a header, string keys with
// their absolute expiry in ms, and the opcodes the reader shares. Version 9 holds everything written
// here, and every Redis from 5.0 on loads it. Pure encoding: no I/O, nothing of the cluster or the network.
import type { ByteWriter } from '../byte-writer.js';

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
