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

/** Parsing stopped mid-reply: wait for more bytes. */
const INCOMPLETE = Symbol('incomplete');

/**
 * Parses RESP2 replies from a byte stream. `push` a chunk, then `next()` until it returns
 * `undefined` (more bytes needed). A reply split across chunks is parsed again once whole.
 */
export class ReplyParser {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;

  push(chunk: Buffer): void {
    this.#buf = this.#pos < this.#buf.length ? Buffer.concat([this.#buf.subarray(this.#pos), chunk]) : chunk;
    this.#pos = 0;
  }

  /** The next whole reply, or `undefined`; throws a RespProtocolError on bytes that are not RESP2. */
  next(): RespReply | undefined {
    const start = this.#pos;
    const v = this.#read();
    if (v === INCOMPLETE) {
      this.#pos = start;
      return undefined;
    }
    return v;
  }

  /** Index of the CR of the line starting at #pos, or -1. */
  #lineEnd(): number {
    const cr = this.#buf.indexOf(13, this.#pos);
    return cr === -1 || cr + 1 >= this.#buf.length ? -1 : cr;
  }

  #read(): RespReply | typeof INCOMPLETE {
    const b = this.#buf;
    if (this.#pos >= b.length) return INCOMPLETE;
    const type = b[this.#pos]!;
    const cr = this.#lineEnd();
    if (cr === -1) return INCOMPLETE;
    const from = this.#pos + 1;
    const line = b.latin1Slice(from, cr);
    this.#pos = cr + 2;
    switch (type) {
      case 0x2b: // +
        return line;
      case 0x2d: // -
        return new RespErrorReply(b.toString('utf8', from, cr));
      case 0x3a: // :
        return integerOf(line);
      case 0x24: {
        // $
        const len = integerOf(line);
        if (len === -1) return null;
        if (len < 0) throw new RespProtocolError(`bad bulk length "${line}"`);
        if (this.#pos + len + 2 > b.length) return INCOMPLETE;
        const v = b.subarray(this.#pos, this.#pos + len);
        this.#pos += len + 2;
        return v;
      }
      case 0x2a: {
        // *
        const n = integerOf(line);
        if (n === -1) return null;
        if (n < 0) throw new RespProtocolError(`bad array length "${line}"`);
        const items: RespReply[] = [];
        for (let i = 0; i < n; i++) {
          const v = this.#read();
          if (v === INCOMPLETE) return INCOMPLETE;
          items.push(v);
        }
        return items;
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

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  /** Connects to `host:port`; rejects with the socket error (ECONNREFUSED...) or after `timeoutMs`. */
  static connect(host: string, port: number, timeoutMs = 5000): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RespClient(socket));
      });
    });
  }

  /** Queues one command; its reply (or the connection's failure) arrives through `cb`. */
  send(args: readonly string[], cb: Callback): void {
    if (this.#closed !== null) {
      cb(this.#closed);
      return;
    }
    let s = `*${args.length}\r\n`;
    for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    this.#out += s;
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
        this.#fail(new RespProtocolError('a reply no command asked for'));
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
    const waiting = this.#waiting.splice(this.#head);
    this.#head = 0;
    this.#waiting.length = 0;
    for (const cb of waiting) cb(err);
  }

  /** Closes the connection; commands still waiting fail. */
  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    const closed = new Promise((resolve) => this.#socket.once('close', resolve));
    this.#socket.end();
    this.#socket.destroy();
    await closed;
  }
}
