// CRC-64 (Jones) as Redis computes it over an RDB file: what ends a snapshot the leader writes and
// what the reader checks. Pure arithmetic, no I/O.

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
