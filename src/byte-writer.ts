// A growable byte buffer for the shared encoders (RESP commands in src/resp/, RDB records in
// src/rdb/): appends without a Buffer per piece, hands out one ArrayBuffer at the end. Pure: it
// imports nothing, so a shard, a client and a server may all use it.

/** Text up to this many characters is copied in JavaScript rather than by Buffer's native write. */
const SHORT = 64;

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
    const n = s.length;
    this.#room(n);
    if (n > SHORT) {
      this.#len += this.#buf.write(s, this.#len, 'latin1');
      return;
    }
    // Short text (RESP framing, numbers) byte by byte: cheaper than a call into Buffer's native write.
    const buf = this.#buf;
    let o = this.#len;
    for (let i = 0; i < n; i++) buf[o++] = s.charCodeAt(i);
    this.#len = o;
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

  /** A non-negative safe integer's decimal digits (RESP lengths), written without a string. */
  decimal(n: number): void {
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.#room(digits);
    const buf = this.#buf;
    let i = this.#len + digits;
    this.#len = i;
    do {
      buf[--i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
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

  /** The bytes in a Buffer of their own (small ones from Node's pool: not to transfer), and starts over. */
  takeBuffer(): Buffer {
    const out = Buffer.allocUnsafe(this.#len);
    this.#buf.copy(out, 0, 0, this.#len);
    this.#len = 0;
    return out;
  }

  /** The bytes as an ArrayBuffer of their own (to transfer), and starts over. */
  take(): ArrayBuffer {
    const out = new ArrayBuffer(this.#len);
    new Uint8Array(out).set(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    return out;
  }
}
