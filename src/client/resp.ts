// A lean pipelined RESP2 client: commands written in one socket write per event-loop turn,
// replies matched to commands in order. It drives `shardcache bench` against any Redis-protocol
// server (a general client library would spend more CPU per op than the servers it measures).
import { connect, type Socket } from 'node:net';
import { ByteWriter } from '../byte-writer.js';
import { writeCommand } from '../resp/command-encoder.js';
import { ReplyParser, RespErrorReply, RespProtocolError, type RespReply } from '../resp/reply-parser.js';

/** Largest pipeline buffer a connection keeps between turns. */
const WRITER_KEEP_BYTES = 1024 * 1024;

type Callback = (err: Error | null, reply?: RespReply) => void;

/** One connection to a Redis-protocol server. */
export class RespClient {
  readonly #socket: Socket;
  readonly #parser = new ReplyParser();
  readonly #waiting: Callback[] = [];
  #head = 0;
  /** Commands queued this turn, written in one socket write. */
  #out = new ByteWriter();
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
  send(args: readonly (string | Uint8Array)[], cb: Callback): void {
    if (this.#closed !== null) {
      cb(this.#closed);
      return;
    }
    writeCommand(this.#out, args);
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
    if (this.#out.length === 0) return;
    const bytes = this.#out.takeBuffer();
    // A pipeline of large values grew the buffer: let it go rather than keep it per connection.
    if (bytes.length > WRITER_KEEP_BYTES) this.#out = new ByteWriter();
    if (this.#closed === null) this.#socket.write(bytes);
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
