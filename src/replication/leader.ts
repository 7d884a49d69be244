// The leader side of Redis replication, for one cluster: the replication stream (every change
// the shards make, as idempotent commands: workers/effects.ts), its backlog for partial resyncs,
// full resyncs with an RDB snapshot of all shards, replica acknowledgements and WAIT.
//
// Why the stream is consistent with the snapshot: each effect sets a key to its whole state (SET
// with absolute expiry, or DEL), so replaying the stream from offset X on top of a snapshot taken
// at or after X converges on the leader's data, even though the shards are dumped one after the
// other while writes go on. Keys stay on their shard during a dump (membership changes wait).
// Effects of one key come from one shard, in its order; FLUSHALL is the one change across shards:
// a shard's effects after its flush wait until every shard has flushed, then follow one FLUSHALL.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { attachReplication, type Cluster, exclusive, sendToShard, shardIdsOf } from '../cluster.js';
import { Op } from '../protocol.js';
import { DEFAULT_OUTPUT_LIMITS, type LimitPassed, type OutputLimit, OutputWatch } from '../resp/output-limits.js';
import { VERSION } from '../version.js';
import { ByteWriter } from '../byte-writer.js';
import { Crc64 } from '../rdb/crc64.js';
import { RDB, writeHeader } from '../rdb/format.js';
import { encodeCommand } from '../resp/command-encoder.js';

/** Default replication backlog: what a replica may miss and still continue (repl-backlog-size). */
export const DEFAULT_BACKLOG_BYTES = 1024 * 1024;
/** Entries and bytes of one shard's snapshot part. */
const DUMP_ENTRIES = 4096;
const DUMP_BYTES = 1024 * 1024;

const FLUSHALL = encodeCommand(['FLUSHALL']);
const PING = encodeCommand(['PING']);
const PING_PERIOD_MS = 10_000;
/**
 * Snapshot bytes a replica may have waiting to be sent before the snapshot waits for it (under the
 * membership lock; the replica class's soft limit drops one that does not read).
 */
const SNAPSHOT_BUFFER_BYTES = 64 * 1024 * 1024;
const GETACK = encodeCommand(['REPLCONF', 'GETACK', '*']);

/** The last `size` bytes of the stream, for replicas that reconnect. */
class Backlog {
  readonly size: number;
  readonly #buf: Buffer;
  /** Stream offset (1-based) of the oldest byte held. */
  first = 0;
  histlen = 0;
  #at = 0;

  constructor(size: number, nextOffset: number) {
    this.size = size;
    this.#buf = Buffer.alloc(size);
    this.first = nextOffset;
  }

  add(b: Uint8Array): void {
    const src = b;
    if (src.length >= this.size) {
      this.first += this.histlen + src.length - this.size;
      this.#buf.set(src.subarray(src.length - this.size), 0);
      this.#at = 0;
      this.histlen = this.size;
      return;
    }
    const tail = Math.min(src.length, this.size - this.#at);
    this.#buf.set(src.subarray(0, tail), this.#at);
    this.#buf.set(src.subarray(tail), 0);
    this.#at = (this.#at + src.length) % this.size;
    const over = this.histlen + src.length - this.size;
    if (over > 0) {
      this.first += over;
      this.histlen = this.size;
    } else this.histlen += src.length;
  }

  /** The bytes from stream offset `from` (1-based) to the end; `from` must be within [first, first + histlen]. */
  from(from: number): Buffer {
    const skip = from - this.first;
    const n = this.histlen - skip;
    const start = (this.#at - this.histlen + skip + this.size * 2) % this.size;
    if (start + n <= this.size) return Buffer.from(this.#buf.subarray(start, start + n));
    return Buffer.concat([this.#buf.subarray(start), this.#buf.subarray(0, n - (this.size - start))]);
  }
}

/** What a replica said about itself before PSYNC (REPLCONF). */
export interface ReplicaHello {
  listeningPort: number;
  ipAddress: string | null;
  capa: Set<string>;
}

/** One attached replica. */
export interface ReplicaLink {
  readonly id: number;
  readonly socket: Socket;
  readonly addr: string;
  readonly hello: ReplicaHello;
  /** sync: its snapshot is being sent; loading: sent with an end mark, waiting for its first ACK. */
  state: 'sync' | 'loading' | 'online';
  /** Stream bytes kept while its snapshot is sent (and loaded). */
  pending: Buffer[] | null;
  pendingBytes: number;
  /** Offset it acknowledged (REPLCONF ACK), and when (ms). */
  ack: number;
  ackAt: number;
  /** Its output buffer (unsent stream and snapshot) against the replica class's client-output-buffer-limit. */
  watch: OutputWatch;
}

/** How a replica's connection is bounded: its class's limits, and who is told when it is dropped for them. */
export interface ReplicaLimits {
  limit: OutputLimit;
  onLimit(which: LimitPassed, bytes: number): void;
}

/**
 * One snapshot for every full resync that starts before it is taken: the replicas that joined
 * share its bytes (each socket holds the same Buffers), so N replicas syncing at once cost one
 * snapshot, not N.
 */
interface SnapshotJob {
  links: ReplicaLink[];
  /** Taking it began: later syncs wait for the next one. */
  started: boolean;
}

interface Barrier {
  waiting: Set<number>;
  held: Buffer[];
}

/** Random 40-hex-digit replication ID. */
function newReplid(): string {
  return randomBytes(20).toString('hex');
}

export class Leader {
  readonly cluster: Cluster;
  readonly backlogSize: number;
  replid = newReplid();
  /** The previous ID and the last offset under it (a promoted replica continues its leader's history). */
  replid2 = '0'.repeat(40);
  secondOffset = -1;
  /** Bytes of stream produced so far (master_repl_offset). */
  offset = 0;
  #backlog: Backlog | null = null;
  readonly links = new Set<ReplicaLink>();
  #nextLink = 1;
  #attached = false;
  /** FLUSHALLs not yet passed by every shard, oldest first; `#passed`: how many each shard passed. */
  #barriers: Barrier[] = [];
  #completed = 0;
  #passed = new Map<number, number>();
  /** WAITs waiting for acknowledgements. */
  #waiters = new Set<() => void>();
  /** The snapshot full resyncs join until it starts. */
  #job: SnapshotJob | null = null;
  /** Full resyncs done, partial resyncs accepted, and refused (INFO stats); snapshots taken for the full ones. */
  readonly stats = { fullSyncs: 0, partialOk: 0, partialErr: 0, snapshots: 0 };

  constructor(cluster: Cluster, backlogSize = DEFAULT_BACKLOG_BYTES) {
    this.cluster = cluster;
    this.backlogSize = backlogSize;
  }

  /** Starts recording the shards' changes (at the first replica; from then on for good, as Redis keeps its backlog). */
  #attach(): void {
    if (this.#attached) return;
    this.#attached = true;
    // A PING in the stream every 10 s (repl-ping-replica-period): replicas tell a quiet leader from a lost one.
    setInterval(() => {
      if ([...this.links].some((l) => l.state === 'online')) this.#append(PING);
    }, PING_PERIOD_MS).unref();
    this.#backlog = new Backlog(this.backlogSize, this.offset + 1);
    attachReplication(this.cluster, {
      onEffects: (id, effects, flushes) => this.#onEffects(id, Buffer.from(effects), flushes),
      beforeFlush: (ids) => {
        this.#barriers.push({ waiting: new Set(ids), held: [] });
        for (const id of ids) if (!this.#passed.has(id)) this.#passed.set(id, this.#completed);
      },
      onCrash: (id) => {
        // Its replacement starts after every FLUSHALL sent so far: it has passed them all.
        for (const b of this.#barriers) b.waiting.delete(id);
        this.#passed.set(id, this.#completed + this.#barriers.length);
        this.#completeBarriers();
      },
      onDataLoss: () => this.#restartHistory(),
    });
  }

  #onEffects(shardId: number, bytes: Buffer, flushes: number): void {
    let gen = this.#passed.get(shardId) ?? this.#completed;
    for (let i = 0; i < flushes; i++) {
      const b = this.#barriers[gen - this.#completed];
      if (b === undefined) break;
      gen++;
      this.#passed.set(shardId, gen);
      b.waiting.delete(shardId);
    }
    if (gen <= this.#completed) {
      if (bytes.length > 0) this.#append(bytes);
    } else if (bytes.length > 0) this.#barriers[gen - this.#completed - 1]!.held.push(bytes);
    this.#completeBarriers();
  }

  #completeBarriers(): void {
    while (this.#barriers.length > 0 && this.#barriers[0]!.waiting.size === 0) {
      const b = this.#barriers.shift()!;
      this.#completed++;
      this.#append(FLUSHALL);
      for (const held of b.held) this.#append(held);
    }
  }

  /** Adds bytes to the stream: the backlog, every replica online, every snapshot in progress. */
  #append(b: Buffer): void {
    this.offset += b.length;
    this.#backlog?.add(b);
    for (const link of this.links) {
      if (link.state === 'online') {
        link.socket.write(b);
        link.watch.check(link.socket.writableLength);
      } else if (link.pending !== null) {
        link.pending.push(b);
        link.pendingBytes += b.length;
        link.watch.check(link.socket.writableLength + link.pendingBytes);
      }
    }
  }

  /**
   * The cluster's data no longer follows the stream (a shard died with its keys): a new history.
   * Pending FLUSHALLs go out as they are; every replica is dropped and will resync in full.
   */
  #restartHistory(): void {
    for (const b of this.#barriers) {
      this.#append(FLUSHALL);
      for (const held of b.held) this.#append(held);
    }
    this.#completed += this.#barriers.length;
    this.#barriers = [];
    this.#passed.clear();
    this.replid = newReplid();
    this.replid2 = '0'.repeat(40);
    this.secondOffset = -1;
    this.#backlog = new Backlog(this.backlogSize, this.offset + 1);
    for (const link of this.links) this.#drop(link);
  }

  #drop(link: ReplicaLink): void {
    this.links.delete(link);
    link.watch.stop();
    link.pending = null;
    link.socket.destroy();
    this.#wake();
  }

  /**
   * PSYNC from a replica (SYNC: `replid` null). Returns the reply line to send through the
   * connection, and what to run once it is written (the backlog, or the snapshot, then the stream).
   */
  psync(
    socket: Socket,
    addr: string,
    hello: ReplicaHello,
    replid: string | null,
    offset: number,
    limits: ReplicaLimits = { limit: DEFAULT_OUTPUT_LIMITS.replica, onLimit: () => undefined },
  ): { reply: Buffer; start: () => void } {
    // With copies on several shards, which copy is the key's is the ring's business: a snapshot
    // or stream from every copy would repeat keys (a redis-server replica refuses such an RDB).
    if (this.cluster.options.replicas > 1)
      throw new Error('ERR replication of a cluster with --replicas above 1 is not supported yet (start the leader with --replicas 1)');
    this.#attach();
    const link: ReplicaLink = {
      id: this.#nextLink++,
      socket,
      addr,
      hello,
      state: 'sync',
      pending: [],
      pendingBytes: 0,
      ack: 0,
      ackAt: Date.now(),
      watch: new OutputWatch(
        limits.limit,
        () => socket.writableLength + link.pendingBytes,
        (which, bytes) => {
          limits.onLimit(which, bytes);
          this.#drop(link);
        },
      ),
    };
    this.links.add(link);
    socket.once('close', () => {
      link.watch.stop();
      if (this.links.delete(link)) this.#wake();
    });
    const backlog = this.#backlog!;
    const known = replid === this.replid || (replid === this.replid2 && offset <= this.secondOffset + 1);
    if (replid !== null && known && offset >= backlog.first && offset <= backlog.first + backlog.histlen) {
      // Partial resync: what it missed is still in the backlog. The stream from now on waits in
      // `pending` until the reply line and the missed bytes are written.
      this.stats.partialOk++;
      const missed = backlog.from(offset);
      link.ack = offset - 1;
      const reply = Buffer.from(hello.capa.has('psync2') ? `+CONTINUE ${this.replid}\r\n` : '+CONTINUE\r\n');
      return {
        reply,
        start: () => {
          socket.write(missed);
          this.#online(link);
        },
      };
    }
    if (replid !== null && replid !== '?') this.stats.partialErr++;
    this.stats.fullSyncs++;
    const at = this.offset;
    link.ack = 0;
    const reply = replid === null ? Buffer.alloc(0) : Buffer.from(`+FULLRESYNC ${this.replid} ${at}\r\n`);
    return {
      reply,
      start: () => this.#joinSnapshot(link),
    };
  }

  /** Adds a full resync to the snapshot about to be taken, or begins one (taken a turn later, so syncs that come together share it). */
  #joinSnapshot(link: ReplicaLink): void {
    if (!this.links.has(link)) return;
    if (this.#job !== null) {
      this.#job.links.push(link);
      return;
    }
    const job: SnapshotJob = { links: [link], started: false };
    this.#job = job;
    setImmediate(() => {
      this.#snapshot(job).catch(() => {
        for (const l of job.links) if (this.links.has(l)) this.#drop(l);
      });
    });
  }

  /**
   * Takes one RDB snapshot of every shard for the job's replicas, then sends each what the stream
   * gained meanwhile. Replicas that take an EOF-marked RDB get its parts as they come (the same
   * Buffers for all); the others need its length first, so it is kept whole once for all of them.
   * Its offset is the stream's when it starts: at or after every joined replica's FULLRESYNC
   * offset, which is all a snapshot needs (see the top of this file).
   */
  async #snapshot(job: SnapshotJob): Promise<void> {
    const live = (): ReplicaLink[] => job.links.filter((l) => this.links.has(l));
    const crc = new Crc64();
    let whole: Buffer[] | null = null;
    const marks = new Map<ReplicaLink, string>();
    const send = async (b: Buffer): Promise<void> => {
      const links = live();
      if (links.length === 0) throw new Error('replicas gone');
      crc.update(b);
      whole?.push(b);
      for (const l of links) {
        if (!marks.has(l)) continue;
        l.socket.write(b);
        l.watch.check();
      }
      // A replica this far behind holds the snapshot (and the lock) until it drains or its limits drop it.
      for (const l of live()) {
        if (marks.has(l) && l.socket.writableLength > SNAPSHOT_BUFFER_BYTES) {
          await new Promise<void>((resolve) => l.socket.once('drain', resolve).once('close', resolve));
        }
      }
    };
    await exclusive(this.cluster, async () => {
      // The shards' parts are read with membership changes held, so keys stay put.
      job.started = true;
      if (this.#job === job) this.#job = null;
      this.stats.snapshots++;
      for (const l of live()) {
        if (l.hello.capa.has('eof')) {
          const mark = randomBytes(20).toString('hex');
          marks.set(l, mark);
          l.socket.write(`$EOF:${mark}\r\n`);
        } else whole = [];
      }
      const head = new ByteWriter(256);
      writeHeader(head, {
        'redis-bits': '64',
        ctime: String(Math.floor(Date.now() / 1000)),
        'shardcache-ver': VERSION,
        'repl-id': this.replid,
        'repl-offset': String(this.offset),
      });
      await send(Buffer.from(head.take()));
      for (const id of shardIdsOf(this.cluster)) {
        let from = 0;
        while (from >= 0) {
          if (live().length === 0) throw new Error('replicas gone');
          const [records, next] = (await sendToShard(this.cluster, id, Op.RDB_DUMP, [from, DUMP_ENTRIES, DUMP_BYTES])) as [
            ArrayBuffer,
            number,
          ];
          if (records.byteLength > 0) await send(Buffer.from(records));
          from = next;
        }
      }
    });
    await send(Buffer.from([RDB.EOF]));
    const sum = crc.bytes();
    // The parts as they are, not joined into one copy: every socket writes the same Buffers.
    const parts: Buffer[] = whole === null ? [] : [...(whole as Buffer[]), sum];
    const length = parts.reduce((n, b) => n + b.length, 0);
    whole = null;
    for (const l of live()) {
      const mark = marks.get(l);
      if (mark !== undefined) {
        l.socket.write(sum);
        l.socket.write(mark);
        // A replica finds the end of an EOF-marked RDB in the last bytes it read: stream bytes right
        // behind the mark would hide it. They follow its first ACK (sent once it loaded), as Redis does.
        l.state = 'loading';
      } else {
        l.socket.cork();
        l.socket.write(`$${length}\r\n`);
        for (const b of parts) l.socket.write(b);
        l.socket.uncork();
        this.#online(l);
      }
      l.watch.check();
    }
  }

  #online(link: ReplicaLink): void {
    for (const b of link.pending ?? []) link.socket.write(b);
    link.pending = null;
    link.pendingBytes = 0;
    link.state = 'online';
  }

  /** REPLCONF ACK from a replica's connection. */
  ack(socket: Socket, offset: number): void {
    for (const link of this.links) {
      if (link.socket !== socket) continue;
      if (link.state === 'loading') this.#online(link);
      link.ack = Math.max(link.ack, offset);
      link.ackAt = Date.now();
    }
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Replicas that acknowledged `offset` or more. */
  acked(offset: number): number {
    let n = 0;
    for (const link of this.links) if (link.state === 'online' && link.ack >= offset) n++;
    return n;
  }

  /** WAIT: resolves with how many replicas acknowledged the stream as it is now, once `want` did or after `timeoutMs` (0: no limit). */
  wait(want: number, timeoutMs: number): Promise<number> {
    const target = this.offset;
    const now = this.acked(target);
    if (now >= want || this.links.size === 0) return Promise.resolve(now);
    // Ask for acknowledgements now rather than at the replicas' next periodic one.
    this.#append(GETACK);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const check = (): void => {
        const n = this.acked(target);
        if (n >= want) finish(n);
      };
      const finish = (n: number): void => {
        this.#waiters.delete(check);
        if (timer !== null) clearTimeout(timer);
        resolve(n);
      };
      this.#waiters.add(check);
      if (timeoutMs > 0) timer = setTimeout(() => finish(this.acked(target)), timeoutMs);
    });
  }

  /** ROLE's and INFO's view of the replicas. */
  replicas(): { ip: string; port: number; state: string; offset: number; lag: number }[] {
    return [...this.links].map((l) => ({
      ip: l.hello.ipAddress ?? l.addr.replace(/:\d+$/, '').replace(/^::ffff:/, ''),
      port: l.hello.listeningPort,
      state: l.state === 'online' ? 'online' : 'wait_bgsave',
      offset: l.ack,
      lag: Math.floor((Date.now() - l.ackAt) / 1000),
    }));
  }

  /** INFO replication's leader fields after role and connected_slaves. */
  infoFields(): string[] {
    const b = this.#backlog;
    return [
      `master_failover_state:no-failover`,
      `master_replid:${this.replid}`,
      `master_replid2:${this.replid2}`,
      `master_repl_offset:${this.offset}`,
      `second_repl_offset:${this.secondOffset}`,
      `repl_backlog_active:${b === null ? 0 : 1}`,
      `repl_backlog_size:${this.backlogSize}`,
      `repl_backlog_first_byte_offset:${b === null ? 0 : b.first}`,
      `repl_backlog_histlen:${b === null ? 0 : b.histlen}`,
    ];
  }
}

const leaders = new WeakMap<Cluster, Leader>();

/** The cluster's leader side (one per cluster, whatever the number of RESP servers on it). */
export function leaderOf(cluster: Cluster, backlogSize?: number): Leader {
  let l = leaders.get(cluster);
  if (l === undefined) {
    l = new Leader(cluster, backlogSize);
    leaders.set(cluster, l);
  }
  return l;
}
