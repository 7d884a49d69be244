// Reading an RDB file whole (a leader's snapshot): string keys of database 0 with their expiry,
// and counts of what it skipped (other types, other databases, modules, functions). Never applies
// anything itself: it returns what the file holds, or throws an RdbError before anything is used.
import { Crc64 } from './crc64.js';
import { RDB } from './format.js';

/** An RDB that cannot be loaded: truncated, corrupt, or holding what this reader cannot skip. */
export class RdbError extends Error {
  constructor(message: string) {
    super(`RDB: ${message}`);
    this.name = 'RdbError';
  }
}

/** One string key of database 0. */
export interface RdbEntry {
  key: Buffer;
  value: Buffer;
  /** Absolute expiry (ms), 0 for none. */
  expireAt: number;
}

/** What a whole RDB held: string keys of db 0, and what was skipped (by type name, or `db N`). */
export interface RdbContents {
  version: number;
  entries: RdbEntry[];
  skipped: Map<string, number>;
  aux: Map<string, string>;
}

/** Value type names (Redis 7.x), for the skipped counts. */
const TYPE_NAMES: Record<number, string> = {
  0: 'string',
  1: 'list',
  2: 'set',
  3: 'zset',
  4: 'hash',
  5: 'zset',
  6: 'module',
  7: 'module',
  9: 'hash',
  10: 'list',
  11: 'set',
  12: 'zset',
  13: 'hash',
  14: 'list',
  15: 'stream',
  16: 'hash',
  17: 'zset',
  18: 'list',
  19: 'stream',
  20: 'set',
  21: 'stream',
};

/** LZF, as Redis compresses strings in RDB files. */
export function lzfDecompress(input: Buffer, outLen: number): Buffer {
  const out = Buffer.alloc(outLen);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const len = ctrl + 1;
      if (op + len > outLen || ip + len > input.length) throw new RdbError('bad LZF data');
      input.copy(out, op, ip, ip + len);
      ip += len;
      op += len;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) len += input[ip++]!;
      ref -= input[ip++]!;
      len += 2;
      if (ref < 0 || op + len > outLen) throw new RdbError('bad LZF back reference');
      for (let i = 0; i < len; i++) out[op++] = out[ref++]!;
    }
  }
  if (op !== outLen) throw new RdbError('LZF data shorter than announced');
  return out;
}

/** Parses a whole RDB file (checksum verified unless it is zero, as Redis allows). */
export function parseRdb(buf: Buffer): RdbContents {
  let p = 0;
  const need = (n: number): void => {
    if (p + n > buf.length) throw new RdbError('truncated');
  };
  const u8 = (): number => {
    need(1);
    return buf[p++]!;
  };
  /** A length, or for a special string encoding [-1 - kind]. */
  const len = (): number => {
    const b = u8();
    switch (b >> 6) {
      case 0:
        return b & 0x3f;
      case 1:
        return ((b & 0x3f) << 8) | u8();
      case 2:
        if (b === 0x80) {
          need(4);
          p += 4;
          return buf.readUInt32BE(p - 4);
        }
        if (b === 0x81) {
          need(8);
          p += 8;
          const v = buf.readBigUInt64BE(p - 8);
          if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RdbError('length too large');
          return Number(v);
        }
        throw new RdbError(`bad length byte 0x${b.toString(16)}`);
      default:
        return -1 - (b & 0x3f);
    }
  };
  /** A length that is only skipped: IDs and counters may pass 2^53 (a stream group's entries_read is -1 as 2^64-1). */
  const skipLen = (): void => {
    const b = u8();
    if (b >> 6 === 1) u8();
    else if (b === 0x80) skip(4);
    else if (b === 0x81) skip(8);
    else if (b >> 6 !== 0) throw new RdbError(`bad length byte 0x${b.toString(16)}`);
  };
  /** A module value (type 7, MODULE_2, and MODULE_AUX): typed fields up to an end opcode. */
  const skipModuleFields = (): void => {
    for (;;) {
      const op = plainLen();
      if (op === 0) return;
      if (op === 1 || op === 2) skipLen();
      else if (op === 3) skip(4);
      else if (op === 4) skip(8);
      else if (op === 5) str();
      else throw new RdbError(`bad module field opcode ${op}`);
    }
  };
  const plainLen = (): number => {
    const n = len();
    if (n < 0) throw new RdbError('an encoded string where a length belongs');
    return n;
  };
  const str = (): Buffer => {
    const n = len();
    if (n >= 0) {
      need(n);
      p += n;
      return buf.subarray(p - n, p);
    }
    switch (-1 - n) {
      case 0:
        need(1);
        p += 1;
        return Buffer.from(String(buf.readInt8(p - 1)));
      case 1:
        need(2);
        p += 2;
        return Buffer.from(String(buf.readInt16LE(p - 2)));
      case 2:
        need(4);
        p += 4;
        return Buffer.from(String(buf.readInt32LE(p - 4)));
      case 3: {
        const clen = plainLen();
        const ulen = plainLen();
        need(clen);
        p += clen;
        return lzfDecompress(buf.subarray(p - clen, p), ulen);
      }
      default:
        throw new RdbError(`unknown string encoding ${-1 - n}`);
    }
  };
  const skipStrings = (n: number): void => {
    for (let i = 0; i < n; i++) str();
  };
  const skip = (n: number): void => {
    need(n);
    p += n;
  };
  /** Skips a value of `type` (anything but a string). */
  const skipValue = (type: number, version: number): void => {
    switch (type) {
      case 1:
      case 2:
      case 14: // list, set, quicklist (of ziplists): a count of strings
        skipStrings(plainLen());
        return;
      case 3: {
        // zset: member, then a score as a length-prefixed text (253-255: special values).
        const n = plainLen();
        for (let i = 0; i < n; i++) {
          str();
          const l = u8();
          if (l < 253) skip(l);
        }
        return;
      }
      case 4:
        skipStrings(plainLen() * 2);
        return;
      case 5: {
        const n = plainLen();
        for (let i = 0; i < n; i++) {
          str();
          skip(8);
        }
        return;
      }
      case 9:
      case 10:
      case 11:
      case 12:
      case 13:
      case 16:
      case 17:
      case 20:
        str();
        return;
      case 18: {
        const n = plainLen();
        for (let i = 0; i < n; i++) {
          plainLen();
          str();
        }
        return;
      }
      case 15:
      case 19:
      case 21: {
        skipStrings(plainLen() * 2); // listpacks: master ID, listpack
        skipLen(); // items
        skipLen(); // last ID ms
        skipLen(); // last ID seq
        if (type >= 19) {
          skipLen(); // first ID ms
          skipLen(); // first ID seq
          skipLen(); // max deleted ID ms
          skipLen(); // max deleted ID seq
          skipLen(); // entries added
        }
        const groups = plainLen();
        for (let g = 0; g < groups; g++) {
          str(); // name
          skipLen(); // last ID ms
          skipLen(); // last ID seq
          if (type >= 19) skipLen(); // entries read (-1 when unknown)
          const pel = plainLen();
          for (let i = 0; i < pel; i++) {
            skip(16); // ID
            skip(8); // delivery time
            skipLen(); // delivery count
          }
          const consumers = plainLen();
          for (let c = 0; c < consumers; c++) {
            str(); // name
            skip(8); // seen time
            if (type >= 21) skip(8); // active time
            const owned = plainLen();
            skip(owned * 16);
          }
        }
        return;
      }
      case 7:
        skipLen(); // module id
        skipModuleFields();
        return;
      default:
        throw new RdbError(`cannot skip a value of type ${type} (${TYPE_NAMES[type] ?? 'unknown'}) in RDB version ${version}`);
    }
  };

  need(9);
  if (buf.toString('latin1', 0, 5) !== 'REDIS') throw new RdbError('not an RDB file (no REDIS magic)');
  const version = Number(buf.toString('latin1', 5, 9));
  if (!Number.isInteger(version) || version < 1 || version > 12)
    throw new RdbError(`unsupported version "${buf.toString('latin1', 5, 9)}"`);
  p = 9;
  // The checksum first: a corrupt file says so, rather than failing somewhere in its middle.
  const trailer = buf.subarray(buf.length - 8);
  if (version >= 5 && buf.length >= 18 && buf[buf.length - 9] === RDB.EOF && !trailer.equals(Buffer.alloc(8))) {
    const crc = new Crc64();
    crc.update(buf.subarray(0, buf.length - 8));
    if (!crc.bytes().equals(trailer)) throw new RdbError('checksum mismatch (corrupt)');
  }
  const out: RdbContents = { version, entries: [], skipped: new Map(), aux: new Map() };
  const count = (what: string): void => {
    out.skipped.set(what, (out.skipped.get(what) ?? 0) + 1);
  };
  let db = 0;
  let expireAt = 0;
  for (;;) {
    const op = u8();
    switch (op) {
      case RDB.EOF: {
        // Its checksum (version 5 on) was checked up front: the EOF is then the file's 9th-last byte.
        if (version >= 5) skip(8);
        if (p !== buf.length) throw new RdbError(`${buf.length - p} bytes after the end`);
        return out;
      }
      case RDB.AUX: {
        const k = str().toString();
        out.aux.set(k, str().toString());
        continue;
      }
      case RDB.RESIZEDB:
        plainLen();
        plainLen();
        continue;
      case RDB.EXPIRETIME_MS:
        need(8);
        expireAt = Number(buf.readBigUInt64LE(p));
        p += 8;
        continue;
      case RDB.EXPIRETIME:
        need(4);
        expireAt = buf.readUInt32LE(p) * 1000;
        p += 4;
        continue;
      case RDB.SELECTDB:
        db = plainLen();
        continue;
      case 0xf8: // IDLE
        plainLen();
        continue;
      case 0xf9: // FREQ
        u8();
        continue;
      case 0xf5: // FUNCTION2: a library's code
        str();
        count('function');
        continue;
      case 0xf7: // MODULE_AUX: module id, when-opcode, when, then the module's fields
        skipLen();
        skipLen();
        skipLen();
        skipModuleFields();
        count('module-aux');
        continue;
      default: {
        const key = str();
        if (op === RDB.TYPE_STRING) {
          const value = str();
          if (db === 0) out.entries.push({ key, value, expireAt });
          else count(`db${db}`);
        } else {
          skipValue(op, version);
          count(db === 0 ? (TYPE_NAMES[op] ?? `type ${op}`) : `db${db}`);
        }
        expireAt = 0;
      }
    }
  }
}
