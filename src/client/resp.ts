// A lean pipelined RESP2 client: commands written in one socket write per event-loop turn,
// replies matched to commands in order. It drives `shardcache bench` against any Redis-protocol
// server (a general client library would spend more CPU per op than the servers it measures).
import { connect, type Socket } from 'node:net';

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

/** A command as RESP sends it: an array of bulk strings (their lengths in UTF-8 bytes). */
export function encodeCommand(args: readonly string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

type Callback = (err: Error | null, reply?: RespReply) => void;

/** One connection to a Redis-protocol server. */
export class RespClient {
  readonly #socket: Socket;
  readonly #parser = new ReplyParser();
  readonly #waiting: Callback[] = [];
  #head = 0;
  #out = '';
  #scheduled = false;
  #closed: Error | null = null;
  /** When a reply last arrived, or a command was sent with none outstanding (ms, performance clock). */
  #progress = 0;
  readonly #watchdog: NodeJS.Timeout | null;

  private constructor(socket: Socket, replyTimeoutMs: number) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed')));
    // A peer that stops answering fails the connection instead of leaving its callers waiting.
    this.#watchdog =
      replyTimeoutMs > 0
        ? setInterval(
            () => {
              if (this.#waiting.length > this.#head && performance.now() - this.#progress > replyTimeoutMs) {
                this.#fail(new Error(`no reply for ${replyTimeoutMs / 1000} s`));
                socket.destroy();
              }
            },
            Math.min(1000, replyTimeoutMs / 4),
          ).unref()
        : null;
  }

  /**
   * Connects to `host:port`; rejects with the socket error (ECONNREFUSED...) or after
   * `timeoutMs`. Later, a command unanswered for `timeoutMs` (0: never) fails the connection.
   */
  static connect(host: string, port: number, timeoutMs = 10_000): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              socket.destroy();
              reject(new Error(`connecting to ${host}:${port} timed out after ${timeoutMs / 1000} s`));
            }, timeoutMs)
          : null;
      socket.once('error', (err) => {
        if (timer !== null) clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        if (timer !== null) clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RespClient(socket, timeoutMs));
      });
    });
  }

  /** Commands sent and not answered yet. */
  get pending(): number {
    return this.#waiting.length - this.#head;
  }

  /** Queues one command; its reply (or the connection's failure) arrives through `cb`. */
  send(args: readonly string[], cb: Callback): void {
    if (this.#closed !== null) {
      cb(this.#closed);
      return;
    }
    this.#out += encodeCommand(args);
    if (this.#waiting.length === this.#head) this.#progress = performance.now();
    this.#waiting.push(cb);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** One command as a promise; an error reply resolves as a RespErrorReply. */
  call(...args: string[]): Promise<RespReply> {
    return new Promise((resolve, reject) => this.send(args, (err, reply) => (err === null ? resolve(reply!) : reject(err))));
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#closed === null && this.#out !== '') this.#socket.write(this.#out);
    this.#out = '';
  };

  #onData(chunk: Buffer): void {
    this.#progress = performance.now();
    this.#parser.push(chunk);
    for (;;) {
      let reply: RespReply | undefined;
      try {
        reply = this.#parser.next();
      } catch (err) {
        this.#fail(err as Error);
        this.#socket.destroy();
        return;
      }
      if (reply === undefined) return;
      const cb = this.#waiting[this.#head];
      if (cb === undefined) {
        // A server that turns a client away says why before it closes (max number of clients...).
        this.#fail(reply instanceof RespErrorReply ? new Error(reply.message) : new RespProtocolError('a reply no command asked for'));
        this.#socket.destroy();
        return;
      }
      this.#waiting[this.#head++] = undefined as never;
      if (this.#head === this.#waiting.length) {
        this.#waiting.length = 0;
        this.#head = 0;
      } else if (this.#head > 4096) {
        this.#waiting.splice(0, this.#head);
        this.#head = 0;
      }
      cb(null, reply);
    }
  }

  /** Fails every waiting command once; later sends fail at once. */
  #fail(err: Error): void {
    if (this.#closed !== null) return;
    this.#closed = err;
    if (this.#watchdog !== null) clearInterval(this.#watchdog);
    const waiting = this.#waiting.splice(this.#head);
    this.#head = 0;
    this.#waiting.length = 0;
    for (const cb of waiting) cb(err);
  }

  /** Closes the connection; commands still waiting fail. */
  async close(): Promise<void> {
    if (this.#watchdog !== null) clearInterval(this.#watchdog);
    if (this.#socket.destroyed) return;
    const closed = new Promise((resolve) => this.#socket.once('close', resolve));
    this.#socket.end();
    this.#socket.destroy();
    await closed;
  }
}
