// The one RESP command encoder: a command as an array of bulk strings, written into a ByteWriter
// (a client's pipeline, a shard's replication effects, a replica's handshake). Pure encoding: no
// I/O, and it never checks what a command means.
import { ByteWriter } from '../byte-writer.js';

/** Strings up to this many characters are checked for ASCII in JavaScript. */
const SHORT_TEXT = 64;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** `$N\r\n` or `*N\r\n`. */
function head(w: ByteWriter, mark: number, n: number): void {
  w.byte(mark);
  w.decimal(n);
  w.byte(13);
  w.byte(10);
}

/** Appends one bulk string: a string as UTF-8, bytes as they are. */
export function writeBulk(w: ByteWriter, b: string | Uint8Array): void {
  if (typeof b === 'string') {
    // Short ASCII (command names, keys, numbers) is checked in JavaScript: no native call to size it.
    const n = b.length <= SHORT_TEXT && isAscii(b) ? b.length : Buffer.byteLength(b);
    head(w, 0x24, n);
    // As many bytes as UTF-16 units only when every character is ASCII: then latin1 is the same bytes, and cheaper.
    if (n === b.length) w.ascii(b);
    else w.utf8(b);
  } else {
    head(w, 0x24, b.length);
    w.bytes(b);
  }
  w.byte(13);
  w.byte(10);
}

/** Appends a command: `*N` then each argument as a bulk string. */
export function writeCommand(w: ByteWriter, args: readonly (string | Uint8Array)[]): void {
  head(w, 0x2a, args.length);
  for (const a of args) writeBulk(w, a);
}

/** A command's bytes, in a Buffer of their own. */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Buffer {
  const w = new ByteWriter(64);
  writeCommand(w, args);
  return w.takeBuffer();
}
