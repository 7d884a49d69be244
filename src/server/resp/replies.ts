// A connection's replies in request order. Each request gets a Reply slot when it is read; the
// slot is filled when the shard answers (a Sink: no promise per request) and the ready head of
// the queue goes out in one write, encoded straight into one buffer.
import type { Sink } from '../../shard-handle.js';
import { replyError } from './command-args.js';
import { array, bulk, error, nil, OK } from '../../resp/reply-encoder.js';

/** How a slot's value becomes bytes. */
export const Kind = {
  /** value: the encoded reply (a Buffer). */
  RAW: 0,
  /** value: string, Buffer or null → bulk string or nil. */
  BULK: 1,
  /** value: true → +OK, false → nil (SET's answer). */
  OK_OR_NIL: 2,
  /** value: number, bigint or decimal string → integer reply. */
  INTEGER: 3,
  /** value: a Buffer; its bytes from `start`, `len` of them → bulk string. */
  BULK_RANGE: 4,
  /** value: (string | Buffer | null)[] → an array of bulk strings (MGET). */
  BULK_ARRAY: 5,
} as const;

/** Told when a slot of theirs is filled. */
export interface ReplyOwner {
  /** `reply` became ready (called once per slot). */
  replyReady(reply: Reply): void;
}

/** One request's reply, filled when its command completes. */
export class Reply implements Sink {
  kind: number;
  value: unknown;
  ready: boolean;
  /** Byte length of a string value (computed once, when the batch is sized), or of a BULK_RANGE. */
  len = 0;
  /** Where a BULK_RANGE's bytes start in its Buffer. */
  start = 0;
  /** What its owner counted for it while it waits to be written (approxBytes). */
  bytes = 0;
  /** The last reply of a read: replies go out only up to a ready boundary. */
  boundary = false;
  readonly owner: ReplyOwner;
  /** The protocol when the request was read (a later HELLO in the same pipeline does not change it). */
  readonly resp3: boolean;

  constructor(owner: ReplyOwner, kind: number, value: unknown, ready: boolean, resp3: boolean) {
    this.owner = owner;
    this.kind = kind;
    this.value = value;
    this.ready = ready;
    this.resp3 = resp3;
  }

  done(value: unknown): void {
    this.value = value;
    this.ready = true;
    this.owner.replyReady(this);
  }

  doneBytes(bytes: Buffer, start: number, end: number): void {
    this.kind = Kind.BULK_RANGE;
    this.value = bytes;
    this.start = start;
    this.len = end - start;
    this.ready = true;
    this.owner.replyReady(this);
  }

  fail(err: unknown): void {
    this.kind = Kind.RAW;
    this.value = error(replyError(err));
    this.ready = true;
    this.owner.replyReady(this);
  }
}

/**
 * About how many bytes a ready reply will take once encoded (within a few per element): what its
 * connection counts against its output buffer limits before it is written.
 */
export function approxBytes(r: Reply): number {
  const v = r.value;
  if (r.kind === Kind.BULK_RANGE) return r.len + 16;
  if (typeof v === 'string' || v instanceof Uint8Array) return v.length + 16;
  if (Array.isArray(v)) {
    let n = 16;
    for (const x of v as (string | Uint8Array | null)[]) n += x === null ? 5 : x.length + 16;
    return n;
  }
  return 16;
}

/** Decimal digits of a non-negative safe integer. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes a non-negative safe integer's digits at `off`; returns the new offset. */
function writeDigits(out: Buffer, off: number, n: number): number {
  const end = off + digits(n);
  let i = end;
  do {
    out[--i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

/** A bulk's bytes, or the string to encode for an integer reply that is not a safe integer. */
function size(r: Reply): number {
  const v = r.value;
  const resp3 = r.resp3;
  switch (r.kind) {
    case Kind.RAW:
      return (v as Buffer).length;
    case Kind.BULK:
      if (v === null) return nil(resp3).length;
      r.len = typeof v === 'string' ? Buffer.byteLength(v) : (v as Buffer).length;
      return 1 + digits(r.len) + 2 + r.len + 2;
    case Kind.OK_OR_NIL:
      return (v === true ? OK : nil(resp3)).length;
    case Kind.BULK_RANGE:
      return 1 + digits(r.len) + 2 + r.len + 2;
    case Kind.BULK_ARRAY:
      r.kind = Kind.RAW;
      r.value = array((v as (string | Buffer | null)[]).map((x) => bulk(x, resp3)));
      return (r.value as Buffer).length;
    default: {
      if (typeof v === 'number' && Number.isSafeInteger(v)) return 1 + (v < 0 ? 1 + digits(-v) : digits(v)) + 2;
      // bigint, or the decimal string a shard sends past 2^53.
      r.kind = Kind.RAW;
      r.value = Buffer.from(`:${String(v)}\r\n`);
      return (r.value as Buffer).length;
    }
  }
}

/** Writes `$<len>\r\n` at `off`; returns the new offset. */
function bulkHead(out: Buffer, off: number, len: number): number {
  out[off++] = 0x24; // $
  off = writeDigits(out, off, len);
  out[off++] = 13;
  out[off++] = 10;
  return off;
}

function write(r: Reply, out: Buffer, off: number): number {
  const v = r.value;
  const resp3 = r.resp3;
  switch (r.kind) {
    case Kind.RAW:
      return off + (v as Buffer).copy(out, off);
    case Kind.BULK:
      if (v === null) return off + nil(resp3).copy(out, off);
      off = bulkHead(out, off, r.len);
      if (typeof v === 'string') {
        // Only ASCII strings have as many bytes as UTF-16 units: those can be written as latin1.
        off += out.write(v, off, r.len, r.len === v.length ? 'latin1' : 'utf8');
      } else off += (v as Buffer).copy(out, off);
      out[off++] = 13;
      out[off++] = 10;
      return off;
    case Kind.OK_OR_NIL:
      return off + (v === true ? OK : nil(resp3)).copy(out, off);
    case Kind.BULK_RANGE:
      off = bulkHead(out, off, r.len);
      off += (v as Buffer).copy(out, off, r.start, r.start + r.len);
      out[off++] = 13;
      out[off++] = 10;
      return off;
    default: {
      let n = v as number;
      out[off++] = 0x3a; // :
      if (n < 0) {
        out[off++] = 0x2d;
        n = -n;
      }
      off = writeDigits(out, off, n);
      out[off++] = 13;
      out[off++] = 10;
      return off;
    }
  }
}

/** The bytes of `count` ready replies from `from`, in order. */
export function encodeReplies(replies: Reply[], from: number, count: number): Buffer {
  if (count === 1) {
    const r = replies[from]!;
    if (r.kind === Kind.RAW) return r.value as Buffer;
  }
  let total = 0;
  for (let i = from; i < from + count; i++) total += size(replies[i]!);
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (let i = from; i < from + count; i++) off = write(replies[i]!, out, off);
  return out;
}
