// The one RESP command encoder: a command as an array of bulk strings, written into a ByteWriter
// (a client's pipeline, a shard's replication effects, a replica's handshake). Pure encoding: no
// I/O, and it never checks what a command means.
import { ByteWriter } from '../byte-writer.js';

/** Appends one bulk string: a string as UTF-8, bytes as they are. */
export function writeBulk(w: ByteWriter, b: string | Uint8Array): void {
  if (typeof b === 'string') {
    w.ascii(`$${Buffer.byteLength(b)}\r\n`);
    w.utf8(b);
  } else {
    w.ascii(`$${b.length}\r\n`);
    w.bytes(b);
  }
  w.ascii('\r\n');
}

/** Appends a command: `*N` then each argument as a bulk string. */
export function writeCommand(w: ByteWriter, args: readonly (string | Uint8Array)[]): void {
  w.ascii(`*${args.length}\r\n`);
  for (const a of args) writeBulk(w, a);
}

/** A command's bytes, in a Buffer of their own. */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Buffer {
  const w = new ByteWriter(64);
  writeCommand(w, args);
  return Buffer.from(w.take());
}
