// The RESP2 reply parser: replies from a Redis-protocol server (or a leader's handshake) parsed
// from a byte stream fed in arbitrary pieces. Pure parsing: no socket, and a malformed reply is a
// RespProtocolError, never a crash.

/** An error reply (`-ERR ...`): a value, not a thrown failure, so one bad op does not end a pipeline. */
export class RespErrorReply {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** A RESP2 reply: simple string, error, integer, bulk (null when nil), array (null when nil). */
export type RespReply = string | number | Buffer | null | RespErrorReply | RespReply[];

/** Parsing stopped mid-element: wait for more bytes. */
const INCOMPLETE = Symbol('incomplete');
/** An array started: its elements follow. */
const OPENED = Symbol('opened');

/** An array being filled. */
interface Frame {
  items: RespReply[];
  left: number;
}

/**
 * Parses RESP2 replies from a byte stream. `push` a chunk, then `next()` until it returns
 * `undefined` (more bytes needed). Resumable: the elements of an array already parsed are kept,
 * and a bulk string that is still arriving is gathered until its bytes are all there, so a large
 * reply costs its size once rather than once per chunk.
 */
export class ReplyParser {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  /** Chunks held back while a bulk string still needs `#need` bytes past `#pos`. */
  #more: Buffer[] = [];
  #moreLen = 0;
  #need = 0;
  readonly #stack: Frame[] = [];

  push(chunk: Buffer): void {
    const unread = this.#buf.length - this.#pos;
    if (unread + this.#moreLen + chunk.length < this.#need) {
      this.#more.push(chunk);
      this.#moreLen += chunk.length;
      return;
    }
    const parts = unread > 0 ? [this.#buf.subarray(this.#pos), ...this.#more, chunk] : [...this.#more, chunk];
    this.#buf = parts.length === 1 ? chunk : Buffer.concat(parts);
    this.#pos = 0;
    this.#more = [];
    this.#moreLen = 0;
    this.#need = 0;
  }

  /** The next whole reply, or `undefined`; throws a RespProtocolError on bytes that are not RESP2. */
  next(): RespReply | undefined {
    if (this.#moreLen > 0) return undefined;
    for (;;) {
      const v = this.#element();
      if (v === INCOMPLETE) return undefined;
      if (v === OPENED) continue;
      // Fill the open arrays; an array that gets its last element is itself an element.
      let done: RespReply = v;
      for (;;) {
        const top = this.#stack[this.#stack.length - 1];
        if (top === undefined) return done;
        top.items.push(done);
        if (--top.left > 0) break;
        this.#stack.pop();
        done = top.items;
      }
    }
  }

  /** One element, or OPENED for an array's start (a frame for its elements); #pos moves only past whole parts. */
  #element(): RespReply | typeof INCOMPLETE | typeof OPENED {
    const b = this.#buf;
    if (this.#pos >= b.length) return INCOMPLETE;
    const cr = b.indexOf(13, this.#pos);
    if (cr === -1 || cr + 1 >= b.length) return INCOMPLETE;
    const type = b[this.#pos]!;
    const from = this.#pos + 1;
    const line = b.latin1Slice(from, cr);
    switch (type) {
      case 0x2b: // +
        this.#pos = cr + 2;
        return line;
      case 0x2d: // -
        this.#pos = cr + 2;
        return new RespErrorReply(b.toString('utf8', from, cr));
      case 0x3a: // :
        this.#pos = cr + 2;
        return integerOf(line);
      case 0x24: {
        // $
        const len = integerOf(line);
        if (len === -1) {
          this.#pos = cr + 2;
          return null;
        }
        if (len < 0) throw new RespProtocolError(`bad bulk length "${line}"`);
        const end = cr + 2 + len;
        if (end + 2 > b.length) {
          // Keep the header: the bulk is parsed again, once, when all of it has arrived.
          this.#need = end + 2 - this.#pos;
          return INCOMPLETE;
        }
        this.#pos = end + 2;
        return b.subarray(cr + 2, end);
      }
      case 0x2a: {
        // *
        const n = integerOf(line);
        this.#pos = cr + 2;
        if (n === -1) return null;
        if (n < 0) throw new RespProtocolError(`bad array length "${line}"`);
        if (n === 0) return [];
        this.#stack.push({ items: [], left: n });
        return OPENED;
      }
      default:
        throw new RespProtocolError(`unexpected reply type byte 0x${type.toString(16).padStart(2, '0')}`);
    }
  }
}

/** The peer sent bytes that are not a RESP2 reply. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(`not a Redis-protocol reply: ${message}`);
    this.name = 'RespProtocolError';
  }
}

function integerOf(line: string): number {
  const n = Number(line);
  if (line === '' || !Number.isInteger(n)) throw new RespProtocolError(`bad integer "${line}"`);
  return n;
}
