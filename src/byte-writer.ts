// A growable byte buffer for the shared encoders (RESP commands in src/resp/, RDB records in
// src/rdb/): appends without a Buffer per piece, hands out one ArrayBuffer at the end. Pure: it
// imports nothing, so a shard, a client and a server may all use it.

/** Bytes appended in pieces into one growing buffer. */
export class ByteWriter {
  #buf: Buffer;
  #len = 0;

  constructor(initial = 4096) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }

  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#len++] = b;
  }

  /** ASCII text (RESP framing, numbers). */
  ascii(s: string): void {
    this.#room(s.length);
    this.#len += this.#buf.write(s, this.#len, 'latin1');
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** A string as UTF-8; returns the bytes written. */
  utf8(s: string): number {
    const n = Buffer.byteLength(s);
    this.#room(n);
    this.#len += this.#buf.write(s, this.#len, 'utf8');
    return n;
  }

  u32be(n: number): void {
    this.#room(4);
    this.#buf.writeUInt32BE(n >>> 0, this.#len);
    this.#len += 4;
  }

  /** An integer below 2^53 as 8 bytes, little- or big-endian. */
  u64(n: number, littleEndian: boolean): void {
    this.#room(8);
    const hi = Math.floor(n / 0x100000000);
    const lo = n >>> 0;
    if (littleEndian) {
      this.#buf.writeUInt32LE(lo, this.#len);
      this.#buf.writeUInt32LE(hi, this.#len + 4);
    } else {
      this.#buf.writeUInt32BE(hi, this.#len);
      this.#buf.writeUInt32BE(lo, this.#len + 4);
    }
    this.#len += 8;
  }

  /** The bytes written so far, as a view (valid until the next write). */
  view(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }

  /** The bytes as an ArrayBuffer of their own (to transfer), and starts over. */
  take(): ArrayBuffer {
    const out = new ArrayBuffer(this.#len);
    new Uint8Array(out).set(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    return out;
  }
}
