// The replica side of Redis replication: follows a leader (shardcache or redis-server) — the
// handshake (PING, AUTH, REPLCONF, PSYNC), a full resync from its RDB or a partial one from its
// backlog, then its command stream applied in order through the same command table clients use.
// While it runs the server refuses clients' writes (READONLY) and keeps serving reads, also while
// the link is down; it reconnects by itself with backoff.
//
// Nothing half-applied: an RDB is received and parsed whole (checksum included) before the data
// set is replaced; the stream is applied command by command, and the offset counts only commands
// applied, so a link cut mid-command resumes (PSYNC) from the last whole one.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { encodeCommand } from '../resp/command-encoder.js';
import { ProtocolError, RespParser } from '../resp/request-parser.js';
import { parseRdb, type RdbContents } from '../rdb/read.js';

/** Runs one command of the leader's stream; resolves with its reply (an error reply starts with '-'). */
export type Apply = (args: Buffer[]) => Buffer | Promise<Buffer>;

/** How the replica replaces its data set with a snapshot's; resolves with the keys refused. */
export type Load = (rdb: RdbContents) => Promise<number>;

/** What the replica says about itself; a pino logger fits. */
export interface ReplicaLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ReplicaOptions {
  host: string;
  port: number;
  /** AUTH to the leader (masterauth, and masteruser for an ACL user). */
  masterauth?: string | null;
  masteruser?: string | null;
  /** Our RESP port, told to the leader (REPLCONF listening-port). */
  listeningPort: number;
  apply: Apply;
  load: Load;
  log?: ReplicaLog;
  /** Connect and handshake timeout, and the longest silence of a live link (repl-timeout). Default 60 s. */
  timeoutMs?: number;
  /** Reconnect backoff: doubles from min to max. Default 100 ms to 5 s. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** How often the replica acknowledges its offset. Default 1 s. */
  ackIntervalMs?: number;
}

/** `HOST:PORT` (an IPv6 host in brackets) as --replicaof and createReplica take it, or null. */
export function parseHostPort(input: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(input);
  const port = Number(m?.[3]);
  if (m === null || !(port >= 1 && port <= 65535)) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** Stream bytes read ahead of what is applied before the link stops reading. */
const STREAM_QUEUE_BYTES = 16 * 1024 * 1024;

const quiet: ReplicaLog = { info: () => undefined, warn: () => undefined };

/** The link failed in a way a retry may fix; `message` is the log line. */
class LinkError extends Error {}

/** Bytes from a socket, read by whole lines or counts (the handshake and the snapshot). */
class Reader {
  buf: Buffer = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  #ended: Error | null = null;

  constructor(socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#ended ??= new LinkError('the leader closed the connection');
      this.#wake?.();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      this.#ended = new LinkError(err.code ?? err.message);
      this.#wake?.();
    });
  }

  async #more(): Promise<void> {
    if (this.#ended !== null) throw this.#ended;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    this.#wake = null;
  }

  fail(err: Error): void {
    this.#ended = err;
    this.#wake?.();
  }

  /** One line without its CRLF; bare newlines (a leader's keep-alives while it prepares a snapshot) are skipped. */
  async line(): Promise<string> {
    for (;;) {
      while (this.buf.length > 0 && this.buf[0] === 0x0a) this.buf = this.buf.subarray(1);
      const at = this.buf.indexOf('\r\n');
      if (at >= 0) {
        const line = this.buf.toString('utf8', 0, at);
        this.buf = this.buf.subarray(at + 2);
        return line;
      }
      if (this.buf.length > 64 * 1024) throw new LinkError('not a Redis-protocol server (a line of over 64 KB)');
      await this.#more();
    }
  }

  /** Exactly `n` bytes, gathered once. */
  async bytes(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    for (;;) {
      const take = Math.min(n - have, this.buf.length);
      if (take > 0) {
        parts.push(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        have += take;
      }
      if (have === n) return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
      await this.#more();
    }
  }

  /** Everything up to `mark` (excluded), which ends the snapshot. */
  async untilMark(mark: Buffer): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const at = this.buf.indexOf(mark);
      if (at >= 0) {
        parts.push(this.buf.subarray(0, at));
        this.buf = this.buf.subarray(at + mark.length);
        return Buffer.concat(parts);
      }
      // Keep what could be the start of the mark.
      const keep = Math.min(this.buf.length, mark.length - 1);
      parts.push(this.buf.subarray(0, this.buf.length - keep));
      this.buf = this.buf.subarray(this.buf.length - keep);
      await this.#more();
    }
  }
}

/** What a replica link tells: a sync done (full or partial), the link failed (why). */
export interface ReplicaEvents {
  synced: [{ full: boolean; offset: number }];
  failed: [{ reason: string }];
}

/** A replica's link to its leader; start() runs it until stop(). */
export class Replica extends EventEmitter<ReplicaEvents> {
  readonly host: string;
  readonly port: number;
  readonly #o: ReplicaOptions;
  readonly #log: ReplicaLog;
  /** connect: waiting to retry; connecting / sync / connected: as ROLE reports. */
  state: 'connect' | 'connecting' | 'sync' | 'connected' = 'connect';
  /** The leader's replication ID and our offset in its stream (bytes applied), as PSYNC needs them. */
  replid: string | null = null;
  offset = -1;
  /** Keys of other types or databases a snapshot held, skipped (by type). */
  readonly skipped = new Map<string, number>();
  /** Commands of the stream that failed here, and their first error. */
  applyErrors = 0;
  firstApplyError: string | null = null;
  readonly stats = { fullSyncs: 0, partialSyncs: 0, connects: 0 };
  /** When the leader last sent anything (ms), and since when the link is down (ms, 0 while up). */
  lastIoAt = 0;
  downSince = Date.now();
  /** The last reason the link failed (INFO, logs). */
  lastError: string | null = null;
  #socket: Socket | null = null;
  #stopped = false;
  #retry: NodeJS.Timeout | null = null;
  #wakeRetry: (() => void) | null = null;
  /** The database the stream selected: it stays selected across a partial resync (Redis sends SELECT once). */
  #db = 0;
  #backoff: number;
  #running: Promise<void> | null = null;

  constructor(options: ReplicaOptions) {
    super();
    this.host = options.host;
    this.port = options.port;
    this.#o = options;
    this.#log = options.log ?? quiet;
    this.#backoff = options.backoffMinMs ?? 100;
  }

  /** Starts following the leader; reconnects by itself until stop(). */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops following: closes the link; the data stays as it is. */
  stop(): void {
    this.#stopped = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#wakeRetry?.();
    this.#socket?.destroy();
  }

  /** Resolves when the loop has ended after stop(). */
  async stopped(): Promise<void> {
    this.stop();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#session();
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (this.#stopped) break;
        this.lastError = reason;
        this.#log.warn({ leader: `${this.host}:${this.port}`, reason, retryInMs: this.#backoff }, 'replication link failed; retrying');
        this.emit('failed', { reason });
      }
      this.state = 'connect';
      if (this.downSince === 0) this.downSince = Date.now();
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        this.#wakeRetry = resolve;
        this.#retry = setTimeout(resolve, this.#backoff);
      });
      this.#wakeRetry = null;
      this.#backoff = Math.min(this.#backoff * 2, this.#o.backoffMaxMs ?? 5000);
    }
    this.state = 'connect';
  }

  /** One connection: handshake, sync, then the stream until the link fails. */
  async #session(): Promise<void> {
    const timeoutMs = this.#o.timeoutMs ?? 60_000;
    this.state = 'connecting';
    this.stats.connects++;
    const socket = connect({ host: this.host, port: this.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    const reader = new Reader(socket);
    // One timer for every phase: a leader silent for timeoutMs fails the link.
    this.lastIoAt = Date.now();
    socket.on('data', () => {
      this.lastIoAt = Date.now();
    });
    const watchdog = setInterval(
      () => {
        if (Date.now() - this.lastIoAt <= timeoutMs) return;
        const err = new LinkError(`no data from the leader for ${timeoutMs / 1000} s`);
        reader.fail(err);
        // A connect that never completes (a silent address) ends here too.
        socket.destroy(err);
      },
      Math.min(1000, timeoutMs / 4),
    );
    let acker: NodeJS.Timeout | null = null;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', (err: Error & { code?: string }) => reject(new LinkError(`cannot connect: ${err.code ?? err.message}`)));
        socket.once('close', () => reject(new LinkError('cannot connect: closed')));
      });
      const ask = async (...args: string[]): Promise<string> => {
        socket.write(encodeCommand(args));
        return reader.line();
      };
      const pong = await ask('PING');
      if (pong !== '+PONG' && !pong.startsWith('-NOAUTH') && !pong.startsWith('-NOPERM'))
        throw new LinkError(
          pong.startsWith('-')
            ? `the leader refused PING: ${pong.slice(1)}`
            : `not a Redis-protocol server (PING answered ${JSON.stringify(pong.slice(0, 40))})`,
        );
      if (this.#o.masterauth != null) {
        const ok = await (this.#o.masteruser != null
          ? ask('AUTH', this.#o.masteruser, this.#o.masterauth)
          : ask('AUTH', this.#o.masterauth));
        if (ok !== '+OK') throw new LinkError(`the leader refused masterauth: ${ok.replace(/^-/, '')}`);
      } else if (pong.startsWith('-NOAUTH')) throw new LinkError('the leader needs a password (masterauth)');
      // Unknown options are not fatal (old servers): the answers are read and let go.
      await ask('REPLCONF', 'listening-port', String(this.#o.listeningPort));
      await ask('REPLCONF', 'capa', 'eof', 'capa', 'psync2');
      const psync = await ask('PSYNC', this.replid ?? '?', String(this.replid === null ? -1 : this.offset + 1));
      this.state = 'sync';
      const full = /^\+FULLRESYNC ([0-9a-zA-Z]{40}) (\d+)$/.exec(psync);
      const cont = /^\+CONTINUE(?: ([0-9a-zA-Z]{40}))?$/.exec(psync);
      if (full !== null) {
        await this.#fullSync(reader, socket);
        this.#db = 0;
        this.replid = full[1]!;
        this.offset = Number(full[2]);
        this.stats.fullSyncs++;
      } else if (cont !== null) {
        if (cont[1] !== undefined) this.replid = cont[1];
        this.stats.partialSyncs++;
        this.#log.info({ leader: `${this.host}:${this.port}`, offset: this.offset }, 'partial resync: continuing the stream');
      } else throw new LinkError(`the leader refused PSYNC: ${psync.replace(/^-/, '')}`);
      // Our offset right away (a leader that sent an EOF-marked snapshot waits for it), then every second.
      this.#ack(socket);
      acker = setInterval(() => this.#ack(socket), this.#o.ackIntervalMs ?? 1000);
      this.state = 'connected';
      this.downSince = 0;
      this.lastError = null;
      this.#backoff = this.#o.backoffMinMs ?? 100;
      this.emit('synced', { full: full !== null, offset: this.offset });
      await this.#stream(reader, socket);
    } finally {
      clearInterval(watchdog);
      if (acker !== null) clearInterval(acker);
      socket.destroy();
      this.#socket = null;
    }
  }

  /** Receives the snapshot whole, checks it, then replaces the data set with it. */
  async #fullSync(reader: Reader, socket: Socket): Promise<void> {
    const head = await reader.line();
    const eof = /^\$EOF:(.{40})$/.exec(head);
    let rdb: Buffer;
    if (eof !== null) rdb = await reader.untilMark(Buffer.from(eof[1]!, 'latin1'));
    else {
      const len = /^\$(\d+)$/.exec(head);
      if (len === null) throw new LinkError(`expected the snapshot, got ${JSON.stringify(head.slice(0, 40))}`);
      rdb = await reader.bytes(Number(len[1]));
    }
    let contents: RdbContents;
    try {
      contents = parseRdb(rdb);
    } catch (err) {
      // The data set stays as it was: nothing of a bad snapshot is applied.
      throw new LinkError(`the leader's snapshot cannot be loaded (${(err as Error).message}); keeping the current data`);
    }
    socket.pause();
    const refused = await this.#o.load(contents);
    socket.resume();
    // A long load is not the leader's silence.
    this.lastIoAt = Date.now();
    if (refused > 0) {
      this.applyErrors += refused;
      this.#log.warn({ refused }, 'keys of the snapshot were refused here (maxmemory?)');
    }
    this.skipped.clear();
    for (const [what, n] of contents.skipped) this.skipped.set(what, n);
    const skippedKeys = [...contents.skipped.values()].reduce((a, b) => a + b, 0);
    if (skippedKeys > 0)
      this.#log.warn(
        { skipped: Object.fromEntries(contents.skipped) },
        'the snapshot held keys shardcache does not keep (other types or databases); skipped',
      );
    this.#log.info(
      { leader: `${this.host}:${this.port}`, keys: contents.entries.length, bytes: rdb.length },
      'full resync: snapshot loaded',
    );
  }

  /** Applies the command stream, in order, until the link fails. */
  async #stream(reader: Reader, socket: Socket): Promise<void> {
    const parser = new RespParser();
    /** Bytes given to the parser, and those of the commands it returned so far. */
    let fed = 0;
    let counted = 0;
    let chunk: Buffer | null = reader.buf.length > 0 ? reader.buf : null;
    reader.buf = Buffer.alloc(0);
    const queue: Buffer[] = [];
    let wake: (() => void) | null = null;
    let ended: Error | null = null;
    socket.removeAllListeners('data');
    let queued = 0;
    socket.on('data', (d: Buffer) => {
      this.lastIoAt = Date.now();
      queue.push(d);
      queued += d.length;
      // A leader that writes faster than this replica applies pushes back through TCP.
      if (queued > STREAM_QUEUE_BYTES) socket.pause();
      wake?.();
    });
    const end = (err: Error): void => {
      ended ??= err;
      wake?.();
    };
    socket.on('close', () => end(new LinkError('the leader closed the connection')));
    socket.on('error', (err: Error & { code?: string }) => end(new LinkError(err.code ?? err.message)));
    reader.fail = end;
    // Closed while the snapshot loaded: what arrived before is still applied, then the link ends.
    if (socket.destroyed || socket.readableEnded) end(new LinkError('the leader closed the connection'));
    for (;;) {
      if (chunk === null) {
        while (queue.length === 0) {
          if (ended !== null) throw ended;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
        }
        chunk = queue.length === 1 ? queue.pop()! : Buffer.concat(queue.splice(0));
        queued = 0;
        if (socket.isPaused()) socket.resume();
      }
      parser.feed(chunk);
      fed += chunk.length;
      chunk = null;
      // The whole commands of what arrived, in order: sent on at once (each shard applies its
      // share in order), then awaited; the offset counts them once applied.
      const applying: Promise<void>[] = [];
      let size = 0;
      const settle = async (): Promise<void> => {
        await Promise.all(applying);
        applying.length = 0;
        this.offset += size;
        size = 0;
      };
      for (;;) {
        const req = parser.next();
        if (req === null) break;
        if (req instanceof ProtocolError) throw new LinkError(`the leader's stream is not RESP: ${req.message}`);
        // The parser consumes a command's bytes over several calls: count from what it has left.
        const consumed = fed - parser.buffered;
        const bytes = consumed - counted;
        counted = consumed;
        const name = req[0]?.toString().toLowerCase() ?? '';
        if (name === 'replconf' && req[1]?.toString().toLowerCase() === 'getack') {
          // What was applied before it; the GETACK itself counts after, as in Redis.
          await settle();
          this.#ack(socket);
        } else if (name === 'select') {
          this.#db = Number(req[1]?.toString());
        } else if (name !== 'ping' && name !== 'multi' && name !== 'exec' && req.length > 0) {
          if (this.#db !== 0) this.#skip(`db${this.#db}`);
          else {
            const reply = this.#o.apply(req);
            if (Buffer.isBuffer(reply)) this.#check(name, reply);
            else applying.push(reply.then((r) => this.#check(name, r)));
          }
        }
        size += bytes;
      }
      await settle();
    }
  }

  /** REPLCONF ACK with the offset applied so far. */
  #ack(socket: Socket): void {
    socket.write(encodeCommand(['REPLCONF', 'ACK', String(this.offset)]));
  }

  #check(name: string, reply: Buffer): void {
    if (reply[0] !== 0x2d) return;
    const message = reply.toString('utf8', 1).trim();
    // A command for a type shardcache does not keep (LPUSH, HSET...): skipped, like such keys in a snapshot.
    if (message.startsWith('ERR unknown command')) {
      if (!this.skipped.has(`cmd:${name}`))
        this.#log.warn({ command: name }, 'the leader sent a command for a type shardcache does not keep; skipped (counted in INFO)');
      this.#skip(`cmd:${name}`);
    } else this.#applyError(name, message);
  }

  /** INFO replication's replica lines (after role:slave), as Redis prints them, plus what was skipped. */
  info(): string[] {
    const now = Date.now();
    const up = this.state === 'connected';
    const lines = [
      `master_host:${this.host}`,
      `master_port:${this.port}`,
      `master_link_status:${up ? 'up' : 'down'}`,
      `master_last_io_seconds_ago:${this.lastIoAt === 0 || !up ? -1 : Math.floor((now - this.lastIoAt) / 1000)}`,
      `master_sync_in_progress:${this.state === 'sync' ? 1 : 0}`,
      `slave_read_repl_offset:${Math.max(0, this.offset)}`,
      `slave_repl_offset:${Math.max(0, this.offset)}`,
    ];
    if (!up) lines.push(`master_link_down_since_seconds:${this.downSince === 0 ? -1 : Math.floor((now - this.downSince) / 1000)}`);
    lines.push(
      'slave_priority:100',
      'slave_read_only:1',
      'replica_announced:1',
      `shardcache_skipped_keys:${[...this.skipped].map(([k, n]) => `${k}=${n}`).join(',')}`,
      `shardcache_apply_errors:${this.applyErrors}`,
      `shardcache_full_syncs:${this.stats.fullSyncs}`,
      `shardcache_partial_syncs:${this.stats.partialSyncs}`,
    );
    return lines;
  }

  #skip(what: string): void {
    this.skipped.set(what, (this.skipped.get(what) ?? 0) + 1);
  }

  #applyError(name: string, message: string): void {
    this.applyErrors++;
    if (this.firstApplyError === null) {
      this.firstApplyError = `${name}: ${message}`;
      this.#log.warn({ command: name, error: message }, 'a command of the leader failed here (more are counted in INFO)');
    }
  }
}
