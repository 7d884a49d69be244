// The RESP (Redis protocol) front end: one parser per connection, replies of a pipeline written
// in request order even when shards answer out of order (a per-connection queue flushed from its
// head, one write per flush), auth, client and query-buffer limits. It talks to the cluster only
// through the command table; a bad request never affects another connection.
import { createServer, type Server, type Socket } from 'node:net';
import { isLoopback, PROTECTED_MODE_MESSAGE } from '../protected.js';
import { type Cluster, corkTurn } from '../../cluster.js';
import type { ServerContext, Session } from './commands.js';
import { type ContextOptions, createContext, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_QUERY_BYTES } from './context.js';
import { execute } from './execute.js';
import { error } from '../../resp/reply-encoder.js';
import { fastCommand } from './fast.js';
import { OutputWatch } from '../../resp/output-limits.js';
import { CrossProtocol, ProtocolError, RespParser } from '../../resp/request-parser.js';
import { approxBytes, encodeReplies, Kind, Reply, type ReplyOwner } from './replies.js';

/** A RESP server's settings: its context's (context.ts), and who may connect. */
export interface RespServerOptions extends ContextOptions {
  /** Start as a replica of this leader (--replicaof). */
  replicaOf?: { host: string; port: number } | null;
  /** Whether a client's address counts as local for protected mode. Default isLoopback (a seam for tests). */
  isLocal?: (address: string | undefined) => boolean;
}

/** After its last reply, how long a draining connection waits for the client to close its side. */
const DRAIN_GRACE_MS = 2000;

/** A RESP server: a net.Server with its context, and ways to drop, or drain, every connection at shutdown. */
export type RespServer = Server & {
  context: ServerContext;
  destroyConnections(): void;
  /**
   * Graceful stop: accepts no more clients and reads no more bytes, runs every complete request
   * already read, writes every reply, then ends each connection; whatever is still open after
   * `timeoutMs` is destroyed. Resolves when every connection is done.
   */
  shutdown(timeoutMs: number): Promise<void>;
};

/** A client whose unsent replies (written or ready to be) pass this many bytes stops being read until they drain. */
const OUTPUT_HIGH_WATER = 8 * 1024 * 1024;
/**
 * Most requests of a client that may wait for their replies before it is read further: what one
 * read may ask for is bounded by this, not by the read's size (a few KB of GETs of large values).
 */
const MAX_PENDING_REPLIES = 1024;
/**
 * A connection's first guess of a reply's size. Requests in flight are bounded by the high-water
 * mark over the largest recent reply (at most MAX_PENDING_REPLIES), so a pipeline of GETs of large
 * values is asked for a few at a time; the guess follows the replies seen.
 */
const FIRST_REPLY_ESTIMATE = 1024 * 1024;
const DENIED = error(PROTECTED_MODE_MESSAGE);
const MAX_CLIENTS = error('ERR max number of clients reached');

/**
 * Connections with replies to write, flushed once per event-loop turn: the replies of a pipeline
 * come back from several shards in separate messages, and each socket write is a syscall (the
 * main thread's largest cost under redis-benchmark -P 16).
 */
class FlushQueue {
  #dirty: Connection[] = [];
  #scheduled = false;
  readonly #run = (): void => {
    this.#scheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const c of dirty) c.flush();
  };

  add(c: Connection): void {
    this.#dirty.push(c);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }
}

/** Serves a cluster over RESP; call listen() on the returned server. */
export function createRespServer(cluster: Cluster, options: RespServerOptions = {}): RespServer {
  const maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
  const maxQuery = options.maxQueryBuffer ?? DEFAULT_MAX_QUERY_BYTES;
  const protectedMode = options.protectedMode ?? true;
  const isLocal = options.isLocal ?? isLoopback;
  const ctx = createContext(cluster, options);
  let nextId = 1;
  const sockets = new Set<Socket>();
  const connections = new Set<Connection>();
  const flushes = new FlushQueue();
  let stopping = false;

  /** Refuses a client with one error line, without a parser or a session: ends it, and drops it if it does not go. */
  const refuse = (socket: Socket, reply: Buffer): void => {
    socket.on('error', () => undefined);
    socket.end(reply, () => socket.destroy());
  };

  const server = createServer({ noDelay: true }, (socket) => {
    ctx.stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (stopping) {
      socket.destroy();
      return;
    }
    if (protectedMode && ctx.password === null && !isLocal(socket.remoteAddress)) {
      refuse(socket, DENIED);
      return;
    }
    if (ctx.sessions.size >= maxClients) {
      ctx.stats.rejected++;
      refuse(socket, MAX_CLIENTS);
      return;
    }
    const id = nextId++;
    const session: Session = {
      id,
      resp3: false,
      authed: ctx.password === null,
      name: null,
      addr: `${socket.remoteAddress}:${socket.remotePort}`,
      createdAt: Date.now(),
      lastCommand: 'NULL',
      closing: false,
      outputBytes: () => connection.outputBytes(),
      reading: () => !socket.isPaused(),
      kill: () => {
        // Gone from CLIENT LIST at once, not when the close event comes.
        ctx.sessions.delete(id);
        socket.destroy();
      },
      socket,
      afterReplies: (fn) => connection.afterReplies(fn),
      hello: null,
      replica: false,
    };
    ctx.sessions.set(session.id, session);
    const connection = new Connection(ctx, session, socket, new RespParser(options.limits), maxQuery, flushes);
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
  }) as RespServer;
  server.context = ctx;
  server.destroyConnections = () => {
    for (const s of sockets) s.destroy();
  };
  server.shutdown = async (timeoutMs) => {
    stopping = true;
    if (server.listening) server.close();
    ctx.unfollow();
    const drains = [...connections].map((c) => c.shutdown());
    // Sockets with no connection (refused ones being ended) need no draining.
    let timer: NodeJS.Timeout | null = null;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(drains), timeout]);
    if (timer !== null) clearTimeout(timer);
    server.destroyConnections();
  };

  server.on('listening', () => {
    const addr = server.address();
    if (addr !== null && typeof addr === 'object') ctx.port = addr.port;
    if (options.replicaOf != null && ctx.replicaOf === null) ctx.follow(options.replicaOf.host, options.replicaOf.port);
  });
  server.on('close', () => ctx.unfollow());
  return server;
}

/** One client: its parser, and its replies in request order. */
class Connection implements ReplyOwner {
  readonly #ctx: ServerContext;
  readonly #session: Session;
  readonly #socket: Socket;
  readonly #parser: RespParser;
  readonly #maxQuery: number;
  readonly #flushes: FlushQueue;
  /** Replies from `#head` on, in request order. */
  #replies: Reply[] = [];
  #head = 0;
  #dirty = false;
  #closeAfterFlush = false;
  /** Not read until its replies go out (#backlogged). */
  #held = false;
  #awaitingDrain = false;
  #afterReplies: (() => void) | null = null;
  /** Replies asked for and not ready yet; ready ones not written yet, and their bytes. */
  #inflight = 0;
  #readyBytes = 0;
  /** The largest recent reply's size, decaying towards smaller ones seen since. */
  #estimate = FIRST_REPLY_ESTIMATE;
  /** Whether the parser may hold more complete requests (the last parse stopped before its input ran out). */
  #moreInput = false;
  #watch: OutputWatch;
  /** Set by shutdown(): read nothing more, finish what was read, then end. */
  #draining = false;
  #drained: (() => void) | null = null;
  readonly #newReply = (kind: number): Reply => {
    this.#inflight++;
    return this.#add(new Reply(this, kind, null, false, this.#session.resp3));
  };

  constructor(ctx: ServerContext, session: Session, socket: Socket, parser: RespParser, maxQuery: number, flushes: FlushQueue) {
    this.#ctx = ctx;
    this.#session = session;
    this.#socket = socket;
    this.#parser = parser;
    this.#maxQuery = maxQuery;
    this.#flushes = flushes;
    this.#watch = new OutputWatch(
      ctx.outputLimits.normal,
      () => this.outputBytes(),
      (which, bytes) => {
        ctx.stats.outputLimitClosed++;
        ctx.log.warn(
          { event: 'client-output-buffer-limit', remote: session.addr, class: 'normal', limit: which, bytes },
          `client ${session.addr} (class normal) closed: its output buffer (${bytes} bytes) passed the ${which} limit of client-output-buffer-limit`,
        );
        this.#close();
      },
    );
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      ctx.sessions.delete(session.id);
      this.#watch.stop();
      this.#finishDrain();
    });
  }

  /** Reply bytes waiting: given to the socket and not yet sent, and ready but not yet given to it. */
  outputBytes(): number {
    return this.#socket.writableLength + this.#readyBytes;
  }

  /** Runs `fn` once the replies queued so far are written. */
  afterReplies(fn: () => void): void {
    this.#afterReplies = fn;
    this.#markDirty();
  }

  replyReady(reply: Reply): void {
    this.#inflight--;
    const n = approxBytes(reply);
    reply.bytes = n;
    this.#readyBytes += n;
    // Up at once to a larger reply, down slowly: a few small replies do not let a pipeline of large ones in.
    this.#estimate = n >= this.#estimate ? n : this.#estimate - (this.#estimate - n) / 16;
    this.#markDirty();
  }

  #markDirty(): void {
    if (!this.#dirty) {
      this.#dirty = true;
      this.#flushes.add(this);
    }
  }

  /**
   * Writes the ready head of the queue in one write, up to the last reply of a read whose
   * replies are all ready: a pipeline's replies, which come from several shards, then go out in
   * one write instead of one per shard (each write is a syscall that also wakes the client).
   */
  flush(): void {
    this.#dirty = false;
    if (this.#socket.destroyed) {
      // The client is gone: its replies go nowhere, and nothing more of its input runs.
      this.#replies = [];
      this.#head = 0;
      this.#readyBytes = 0;
      return;
    }
    if (!this.#session.replica && this.#watch.check()) return;
    const replies = this.#replies;
    const from = this.#head;
    let end = from;
    for (let i = from; i < replies.length; i++) {
      const r = replies[i]!;
      if (!r.ready) break;
      if (r.boundary) end = i + 1;
    }
    if (end === from) {
      this.#runAfterReplies();
      this.#checkDrained();
      return;
    }
    const out = encodeReplies(replies, from, end - from);
    // Written: let go of their values (a GET's may be a view of a whole batch's bytes).
    for (let i = from; i < end; i++) {
      const r = replies[i]!;
      r.value = null;
      this.#readyBytes -= r.bytes;
    }
    if (end === replies.length) {
      this.#replies = [];
      this.#head = 0;
    } else {
      this.#head = end;
      if (end >= 1024 && end * 2 >= replies.length) {
        replies.splice(0, end);
        this.#head = 0;
      }
    }
    const socket = this.#socket;
    socket.write(out);
    this.#runAfterReplies();
    if (this.#closeAfterFlush && this.#head === this.#replies.length) {
      socket.end();
      return;
    }
    if (!this.#session.replica && this.#watch.check()) return;
    if (this.outputBytes() > OUTPUT_HIGH_WATER) this.#hold();
    this.#release();
    this.#checkDrained();
  }

  /** Closes the connection at once; its replies go nowhere. */
  #close(): void {
    // Gone from CLIENT LIST at once, not when the close event comes.
    this.#ctx.sessions.delete(this.#session.id);
    this.#closeAfterFlush = true;
    this.#replies = [];
    this.#head = 0;
    this.#readyBytes = 0;
    this.#socket.destroy();
  }

  /**
   * Stops reading, runs what was read, writes every reply, then ends the connection; resolves
   * once it is ended (its replies handed to the kernel) or closed.
   */
  shutdown(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#socket.destroyed) {
        resolve();
        return;
      }
      this.#drained = resolve;
      this.#draining = true;
      this.#socket.pause();
      // A replica's socket carries the stream, nothing of ours is owed to it.
      if (this.#session.replica) this.#moreInput = false;
      else if (!this.#held) this.#parse();
      this.#checkDrained();
    });
  }

  /** While draining: ends the connection once nothing read is left to run and every reply is out. */
  #checkDrained(): void {
    if (!this.#draining || this.#drained === null || this.#socket.writableEnded) return;
    if (this.#moreInput || this.#head !== this.#replies.length) return;
    const socket = this.#socket;
    socket.end(() => {
      // Every reply is with the kernel. Input the client still sends is read and dropped
      // (#onData ignores it while draining): closing with unread input would make the kernel
      // reset the connection and throw away replies not yet delivered. Done when the client
      // closes its side, or after a grace period for one that never does.
      if (socket.destroyed) {
        this.#finishDrain();
        return;
      }
      socket.resume();
      const grace = setTimeout(() => this.#finishDrain(), DRAIN_GRACE_MS);
      grace.unref();
      socket.once('close', () => {
        clearTimeout(grace);
        this.#finishDrain();
      });
    });
  }

  #finishDrain(): void {
    const done = this.#drained;
    this.#drained = null;
    done?.();
  }

  #runAfterReplies(): void {
    const fn = this.#afterReplies;
    if (fn === null || this.#head !== this.#replies.length) return;
    this.#afterReplies = null;
    fn();
  }

  /**
   * Too much waiting to go out: unsent reply bytes past the high-water mark (a client that does
   * not read them), or too many requests still waiting for theirs.
   */
  #backlogged(): boolean {
    // A replica's socket carries the replication stream, not replies: its ACKs are always read.
    if (this.#session.replica) return false;
    if (this.outputBytes() > OUTPUT_HIGH_WATER || this.#replies.length - this.#head >= MAX_PENDING_REPLIES) return true;
    // What the replies in flight may weigh, judged by the largest recent one.
    return this.#inflight >= Math.max(1, Math.floor(OUTPUT_HIGH_WATER / this.#estimate));
  }

  /** Stops reading the client (TCP then pushes back on it) instead of growing our memory. */
  #hold(): void {
    if (this.#held) return;
    this.#held = true;
    this.#socket.pause();
  }

  /**
   * Reads the client again once its backlog is gone: now, when its socket drains, or at a later
   * flush (replies becoming ready and written). While draining it only parses what was read.
   */
  #release(): void {
    if (!this.#held || this.#closeAfterFlush) return;
    const socket = this.#socket;
    if (this.#backlogged()) {
      if (socket.writableNeedDrain && !this.#awaitingDrain) {
        this.#awaitingDrain = true;
        socket.once('drain', () => {
          this.#awaitingDrain = false;
          this.#release();
        });
      }
      return;
    }
    this.#held = false;
    if (!this.#draining) socket.resume();
    // What was read before the hold and not parsed yet.
    this.#parse();
  }

  #add(reply: Reply): Reply {
    this.#replies.push(reply);
    return reply;
  }

  /** Queues a finished reply. */
  #now(bytes: Buffer): void {
    const r = this.#add(new Reply(this, Kind.RAW, bytes, true, this.#session.resp3));
    r.bytes = bytes.length;
    this.#readyBytes += bytes.length;
    this.#markDirty();
  }

  /** Queues a general command's reply, ready or to come. */
  #push(reply: Buffer | Promise<Buffer>): void {
    if (Buffer.isBuffer(reply)) {
      this.#now(reply);
      return;
    }
    const slot = this.#newReply(Kind.RAW);
    reply.then(
      (r: Buffer) => slot.done(r),
      (err: unknown) => slot.fail(err),
    );
  }

  #onData(chunk: Buffer): void {
    if (this.#closeAfterFlush || this.#draining) return;
    const parser = this.#parser;
    parser.feed(chunk);
    if (parser.buffered > this.#maxQuery) {
      // Redis closes such a client; the reason goes to the log, the client just sees the close.
      this.#socket.destroy();
      return;
    }
    this.#parse();
  }

  /** Runs the complete requests read so far, until the input or the room for replies runs out. */
  #parse(): void {
    const parser = this.#parser;
    const ctx = this.#ctx;
    const session = this.#session;
    // Every client read in this turn goes to the shards in the same few batches.
    corkTurn(ctx.cluster);
    this.#moreInput = true;
    try {
      for (;;) {
        if (this.#closeAfterFlush) break;
        if (this.#backlogged()) {
          this.#hold();
          break;
        }
        const argc = parser.fast();
        if (argc > 0) {
          const { buf, starts, ends } = parser;
          const found = session.authed && !session.replica ? fastCommand(buf, starts[0]!, ends[0]!) : undefined;
          // A replica's clients may not write: their writes take the general path, which refuses them.
          const cmd = (found?.write === true && ctx.replicaOf !== null) || ctx.loading ? undefined : found;
          if (cmd?.run(ctx.cluster, buf, starts, ends, argc, this.#newReply)) {
            ctx.stats.commands++;
            ctx.stats.calls[cmd.id]!++;
            session.lastCommand = cmd.name;
            continue;
          }
          // Views of the read buffer, which is never reused: no copy.
          const args = new Array<Buffer>(argc);
          for (let i = 0; i < argc; i++) args[i] = buf.subarray(starts[i], ends[i]);
          this.#push(execute(ctx, session, args));
        } else {
          const req = parser.next();
          if (req === null) {
            this.#moreInput = false;
            break;
          }
          if (req instanceof CrossProtocol) {
            this.#crossProtocol(req);
            return;
          }
          if (req instanceof ProtocolError) {
            this.#now(error(`ERR ${req.message}`));
            this.#closeAfterFlush = true;
            break;
          }
          this.#push(execute(ctx, session, req));
        }
        if (session.closing) {
          this.#closeAfterFlush = true;
          break;
        }
      }
    } catch (err) {
      // A bug must cost this connection, never the process or the other clients.
      this.#now(error(`ERR internal error: ${err instanceof Error ? err.message : String(err)}`));
      this.#closeAfterFlush = true;
    }
    const last = this.#replies[this.#replies.length - 1];
    if (last !== undefined) last.boundary = true;
    if (this.#closeAfterFlush) this.#moreInput = false;
    this.#checkDrained();
  }

  /**
   * An HTTP request on the RESP port — most likely a web page making the browser post Redis
   * commands to localhost: closed at once, nothing of it run, as Redis does since 3.2.7.
   */
  #crossProtocol(req: CrossProtocol): void {
    this.#ctx.stats.crossProtocol++;
    this.#ctx.log.warn(
      { event: 'cross-protocol', remote: this.#session.addr, line: req.line },
      `Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to the RESP port (from ${this.#session.addr}). ` +
        'This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your shardcache instance. Connection aborted.',
    );
    this.#close();
  }
}
