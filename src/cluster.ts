// The coordinator: owns the ring and the shard table, validates every call at the public edge,
// routes each key op to its shard's queue, splits multi-key ops by shard and gathers results.
// It never touches shard data: everything it knows of keys and values comes back in replies.
import { EventEmitter } from 'node:events';
import {
  deltaArg,
  durationArg,
  instantArg,
  keyArg,
  keysArg,
  patternArg,
  setOptionsArg,
  valueArg,
  type ExpireMode,
  type Key,
  type SetOptions,
  type Value,
} from './args.js';
import { CacheError, einval, isCrash } from './errors.js';
import { fingerprint32 } from './hash.js';
import { type KeyList, unpackKeys } from './key-list.js';
import { externalKey, hashInternal } from './keys.js';
import { MembershipBus } from './membership.js';
import {
  Migration,
  NO_GROUPS,
  groupTables,
  movingRanges,
  refillRanges,
  type MigrationKind,
  type MigrationStatus,
  type MovingRange,
  type ShardGroups,
} from './migration.js';
import { describe, resolveOptions, type ClusterOptions, type ResolvedOptions } from './options.js';
import { ExpireFlag, Op, REPLICA_COPY, type FaultKind, type MembershipEvent, type ShardMemory, type ShardStats } from './protocol.js';
import { HashRing } from './ring.js';
import { valueFromBytes } from './value-bytes.js';
import { type CacheHandle, HandleHost, type RoutingSnapshot } from './shared/handles.js';
import { TurnBudget } from './shared/turns.js';
import { FALLBACK } from './shared/view.js';
import {
  FlushGate,
  fail,
  forward,
  IN_PLACE,
  type Held,
  type Receiver,
  type Rejecter,
  ShardHandle,
  type ShardState,
  type Sink,
} from './shard-handle.js';

export type ClusterState = 'starting' | 'ready' | 'closing' | 'closed';

/** A shard as the cluster reports it. */
export interface ShardInfo {
  id: number;
  name: string;
  state: ShardState;
  /** Times its worker died (crash, exit or watchdog). */
  crashes: number;
  /** Ops queued or in flight. */
  pending: number;
  /** Batches posted to it, and the ops they carried (their ratio: the mean batch size). */
  batches: number;
  batchedOps: number;
}

export interface ShardReport extends ShardInfo {
  /** The shard's counters; absent when the shard is down. */
  stats?: ShardStats;
}

export interface ClusterStats {
  epoch: number;
  state: ClusterState;
  shards: ShardReport[];
  totals: Omit<ShardStats, 'announcements' | 'announcedEpoch'>;
  /** Present when crashes lost every copy of some keys since the start or the last FLUSHALL. */
  dataLoss?: DataLoss;
}

/** Keys whose every copy was lost to crashes, since the start or the last FLUSHALL. */
export interface DataLoss {
  keysLost: number;
  /** Crashes that lost keys. */
  crashes: number;
  /** When the first of them happened (ms since the epoch). */
  since: number;
}

/** Events a host app can listen to with `cluster.on(...)`. */
export interface ClusterEvents {
  /** A shard (or its replacement after a crash) is serving. */
  join: [{ shardId: number; name: string; epoch: number; restart: boolean }];
  /** A shard left the ring. */
  leave: [{ shardId: number; name: string; epoch: number }];
  /** A shard's worker died; `lost` pending ops were rejected with SHARD_CRASHED. */
  crash: [
    {
      shardId: number;
      name: string;
      epoch: number;
      reason: string;
      /** Pending ops rejected with SHARD_CRASHED. */
      lost: number;
      restarting: boolean;
      /**
       * Keys whose every copy went with it, from the shards' last reports (their last reply or
       * watchdog answer): with one copy, all it held; with replicas, those it held in replica sets
       * whose other members had died too and were not refilled yet (0 when another copy lives).
       */
      keysLost: number;
    },
  ];
  /** With replicas ≥ 2: a crashed shard's replacement has been refilled from the other copies. */
  whole: [{ shardId: number; name: string; keysRefilled: number; durationMs: number }];
  /**
   * With replicas ≥ 2: a crashed shard's replacement was refilled with what was left, but every
   * copy of some of its ranges had died: `keysLost` of its keys are gone (reported by the crashes).
   */
  incomplete: [{ shardId: number; name: string; keysRefilled: number; keysLost: number; durationMs: number }];
  /** The ring changed. */
  epoch: [{ epoch: number; shards: number[] }];
  /** A membership change's data movement started, or finished ('done': the new epoch is stable). */
  migration: [MigrationEvent];
}

/** A migration's start or end, with its figures. */
export interface MigrationEvent extends MigrationStatus {
  phase: 'start' | 'done';
  /** Set on 'done'. */
  durationMs?: number;
}

const EXPIRE_FLAGS: Record<ExpireMode, number> = {
  NX: ExpireFlag.NX,
  XX: ExpireFlag.XX,
  GT: ExpireFlag.GT,
  LT: ExpireFlag.LT,
};

/** Most shards a SCAN cursor can address (the cursor packs slot × MAX_SCAN_SHARDS + shard position). */
const MAX_SCAN_SHARDS = 1024;

/**
 * The network front ends' way in, not part of the public API: a keyed op (internal key, checked
 * arguments) whose outcome goes to a Sink. Set by Cluster's static block.
 */
export let sendTo: (cluster: Cluster, op: number, key: string, arg: unknown, sink: Sink) => void;
/** A plain SET of `source[start..end)` (a value as wire bytes) whose outcome goes to a Sink. */
export let sendSet: (cluster: Cluster, key: string, source: Buffer, start: number, end: number, sink: Sink) => void;
/**
 * A multi-key op (Op.MGET, MSET, DEL or EXISTS) on internal keys (and, for MSET, checked values)
 * whose outcome — values in key order, a count, or true — goes to a Sink.
 */
export let sendMulti: (cluster: Cluster, op: number, keys: string[], values: (string | Uint8Array)[] | undefined, sink: Sink) => void;
/** Adds a function told of every answered batch (round trip in seconds, op count); returns its remover. */
export let observeDispatch: (cluster: Cluster, observer: (seconds: number, ops: number) => void) => () => void;
/** Holds the cluster's posts to shards until the end of this event-loop turn (FlushGate). */
export let corkTurn: (cluster: Cluster) => void;

/** What replication (src/replication/leader.ts) hears from a cluster once it attached. */
export interface ReplicationHooks {
  /** A shard's effects, in its order, after `flushes` FLUSHALLs. */
  onEffects(shardId: number, effects: ArrayBuffer, flushes: number): void;
  /** A FLUSHALL is about to go to these shards (each will report `flush`). */
  beforeFlush(shardIds: number[]): void;
  /** A shard's worker died: it will not report the FLUSHALLs it was sent. */
  onCrash(shardId: number): void;
  /** A shard died with its keys (one copy): what replicas hold is no longer what the cluster holds. */
  onDataLoss(shardId: number): void;
}
/** Makes every shard, now and later, report its changes to `hooks` (one attach per cluster). */
export let attachReplication: (cluster: Cluster, hooks: ReplicationHooks) => void;
/** Runs `fn` with no membership change in progress or starting meanwhile (a snapshot's keys stay put). */
export let exclusive: <T>(cluster: Cluster, fn: () => Promise<T>) => Promise<T>;
/** The ids of the shards with a worker. */
export let shardIdsOf: (cluster: Cluster) => number[];
/** One op to one shard by id (RDB_DUMP). */
export let sendToShard: (cluster: Cluster, shardId: number, op: number, arg: unknown) => Promise<unknown>;

/** The cluster: a consistent-hash ring of worker-thread shards behind one async API. */
export class Cluster extends EventEmitter<ClusterEvents> {
  readonly options: Readonly<ResolvedOptions>;
  #ring: HashRing;
  #handles = new Map<number, ShardHandle>();
  readonly #gate = new FlushGate();
  #bus: MembershipBus;
  #state: ClusterState = 'starting';
  #closing: Promise<void> | null = null;
  /** The data movement of the membership change in progress, or null. */
  #migration: Migration | null = null;
  /** Membership changes run one after another: each waits for the previous (DESIGN §3.7). */
  #membership: Promise<unknown> = Promise.resolve();
  /** Membership changes queued or running. */
  #changes = 0;
  #nextId = 1;
  /** Keys locked by a command on several keys (RENAME, COPY, MSETNX): their ops wait here, in order. */
  #locks = new Map<string, (() => void)[]>();
  /** True while held ops are released: they were accepted before any close, so they may run. */
  #releasing = false;
  /** Shards whose replacement is not yet refilled (replicas ≥ 2): reads skip them. */
  #degraded = new Set<number>();
  /** Copies per key (options.replicas), cached for the hot path. */
  #replicas: number;
  /** Replication attached (src/replication/leader.ts), or null. */
  #replication: ReplicationHooks | null = null;
  /** Keys whose every copy was lost, since the start or the last FLUSHALL. */
  #dataLoss: DataLoss = { keysLost: 0, crashes: 0, since: 0 };
  /**
   * Replica sets ('1,3') that lost every copy of some keys (how many), while a member still
   * waits for its refill: that refill cannot find them, so it reports 'incomplete', not 'whole'.
   */
  #lostSets = new Map<string, number>();
  /** The version of the last GroupTables sent to the shards, and the tables (replicas ≥ 2). */
  #groupVersion = 0;
  #groupTables: Map<number, ShardGroups> = new Map();
  /** Handles other threads attached (cluster.handle()): their routing words and ports. */
  readonly #host: HandleHost;
  /** Reads answered in place settle within a per-turn budget, so a read loop lets the event loop turn. */
  readonly #turns = new TurnBudget();

  private constructor(options: ResolvedOptions) {
    super();
    this.options = Object.freeze(options);
    this.#replicas = options.replicas;
    this.#ring = new HashRing({ virtualNodes: options.virtualNodes, hash: options.hash });
    this.#bus = new MembershipBus();
    this.#host = new HandleHost(
      () => this.#routingSnapshot(),
      (method, args) => (this as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args),
    );
  }

  /**
   * A handle for another thread of this process: send it with `postMessage(h, h.transfer)` (or in
   * a Worker's workerData with `transferList: h.transfer`) and `attach(h)` there. That thread
   * reads in place from the shards' memory and sends its writes through this cluster.
   */
  handle(): CacheHandle {
    return this.#ready(() => this.#host.create());
  }

  #routingSnapshot(): Omit<RoutingSnapshot, 't' | 'version'> {
    const memories: [number, ShardMemory][] = [];
    for (const [id, h] of this.#handles) {
      const m = h.sharedMemory;
      if (m !== null) memories.push([id, m]);
    }
    return {
      replicas: this.#replicas,
      virtualNodes: this.options.virtualNodes,
      defaultHash: this.options.hash === fingerprint32,
      moving: this.#migration !== null,
      members: this.#ring.shardIds().map((id) => [id, this.#ring.nameOf(id)!]),
      memories,
    };
  }

  /** Starts the shards and resolves when all are ready. Prefer `createCluster`. */
  static async create(options?: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(resolveOptions(options));
    await cluster.#start();
    return cluster;
  }

  get state(): ClusterState {
    return this.#state;
  }

  /** The ring's epoch: increases on every membership change. */
  get epoch(): number {
    return this.#ring.epoch;
  }

  /** The BroadcastChannel name membership is announced on; a host app may listen to it. */
  get channelName(): string {
    return this.#bus.channelName;
  }

  /** The shards, by id. */
  shards(): ShardInfo[] {
    return this.#shardIds().map((id) => info(this.#handles.get(id)!));
  }

  /**
   * Keys whose every copy crashes lost since the start or the last FLUSHALL (the data set is
   * incomplete), or null when none was.
   */
  get dataLoss(): DataLoss | null {
    return this.#dataLoss.keysLost === 0 ? null : { ...this.#dataLoss };
  }

  /** The migration in progress, or null when the ring is stable. */
  migration(): MigrationStatus | null {
    return this.#migration?.status() ?? null;
  }

  /**
   * Adds a shard: starts its worker, places it on the ring (new epoch), and moves to it the keys
   * it now owns while traffic continues. Resolves when the move is done. Changes queue.
   */
  addShard(): Promise<ShardInfo> {
    return this.#change(() => this.#add());
  }

  /**
   * Removes a shard: takes it off the ring (new epoch), moves its keys to their new owners while
   * traffic continues, then stops its worker. Resolves when it is gone.
   */
  removeShard(shardId: number): Promise<void> {
    if (!Number.isSafeInteger(shardId)) return Promise.reject(einval(`shardId must be an integer, got ${String(shardId)}`));
    return this.#change(() => this.#remove(shardId));
  }

  /** The name of the shard that owns a key (`node-2`), as the REST API reports it. */
  ownerOf(key: Key): string {
    const k = keyArg(key);
    return this.#ring.nameOf(this.#ring.ownerOf(hashInternal(this.options.hash, k))) ?? '';
  }

  // ---- single-key commands --------------------------------------------------------------------

  /** The value, or null. Strings come back as strings, bytes as Buffers. */
  get(key: Key): Promise<string | Buffer | null> {
    // The hottest call: no argument closure, unlike #one; read in place when it can be.
    try {
      const k = keyArg(key);
      const local = this.#readInPlace(Op.GET, k, undefined);
      if (local !== FALLBACK) return this.#turns.resolve(local as string | Buffer | null);
      return this.#send(Op.GET, k, undefined) as Promise<string | Buffer | null>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** SET with Redis's options. Resolves true if set (false when NX/XX prevented it), or with `get: true` the old value. */
  set(key: Key, value: Value, options?: SetOptions & { get?: false }): Promise<boolean>;
  set(key: Key, value: Value, options: SetOptions & { get: true }): Promise<string | Buffer | null>;
  set(key: Key, value: Value, options?: SetOptions): Promise<boolean | string | Buffer | null> {
    try {
      const k = keyArg(key);
      const v = valueArg(value, this.options.maxValueBytes);
      if (options === undefined) return this.#send(Op.SET, k, v) as Promise<boolean>;
      const { flags, expireAt } = setOptionsArg(options);
      return this.#send(Op.SET_EX, k, [v, flags, expireAt]) as Promise<boolean>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Adds `increment` (default 1) to the integer at key; a missing key counts as 0. Keeps the TTL. */
  incrBy(key: Key, increment: number | bigint = 1): Promise<number> {
    return this.#one(Op.INCRBY, key, () => deltaArg(increment)).then(Number);
  }

  incr(key: Key): Promise<number> {
    return this.incrBy(key, 1);
  }

  decr(key: Key): Promise<number> {
    return this.incrBy(key, -1);
  }

  decrBy(key: Key, decrement: number | bigint = 1): Promise<number> {
    try {
      const d = deltaArg(decrement, 'decrement');
      return this.incrBy(key, typeof d === 'bigint' ? -d : -d);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Renames a key (any two keys, across shards), keeping its TTL. Rejects EINVAL 'no such key'
   * when it does not exist. With `nx`, only if the new name is free: resolves false otherwise.
   * Both keys are locked while it runs: later ops on either wait for it (isolation in README).
   */
  rename(key: Key, newKey: Key, options: { nx?: boolean } = {}): Promise<boolean> {
    return this.#copyEntry(key, newKey, 'newKey', { missing: 'error', sameKey: !options.nx, onlyIfFree: options.nx === true, move: true });
  }

  /**
   * Copies a key's value and TTL to another key (any shards). False if the source is missing, or
   * the destination exists without `replace`; EINVAL when both name the same key (as Redis).
   */
  copy(key: Key, destination: Key, options: { replace?: boolean } = {}): Promise<boolean> {
    return this.#copyEntry(key, destination, 'destination', {
      missing: false,
      sameKey: 'error',
      onlyIfFree: !options.replace,
      move: false,
    });
  }

  /**
   * RENAME and COPY: with both keys locked, read the source's value and absolute expiry, write
   * them to the destination, and (`move`) delete the source. `missing`: what a missing source
   * gives ('error': EINVAL 'no such key'); `sameKey`: the result when both name one key (when the
   * source exists), or 'error' to refuse that outright; `onlyIfFree`: false if the destination exists.
   */
  #copyEntry(
    key: Key,
    dest: Key,
    destName: string,
    how: { missing: 'error' | false; sameKey: boolean | 'error'; onlyIfFree: boolean; move: boolean },
  ): Promise<boolean> {
    try {
      const src = this.#ready(() => keyArg(key));
      const dst = keyArg(dest, destName);
      if (src === dst && how.sameKey === 'error') throw einval('source and destination objects are the same');
      return this.#withLocks([src, dst], async () => {
        const entry = (await this.#sendUnlocked(Op.ENTRY, src, undefined)) as [string | Uint8Array, number] | null;
        if (entry === null) {
          if (how.missing === 'error') throw einval('no such key');
          return false;
        }
        if (src === dst) return how.sameKey === true;
        if (how.onlyIfFree && ((await this.#sendUnlocked(Op.PTTL, dst, undefined)) as number) !== -2) return false;
        await this.#sendUnlocked(Op.SET_EX, dst, [entry[0], 0, entry[1]]);
        if (how.move) await this.#sendUnlocked(Op.GETDEL, src, undefined);
        return true;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sets every key only if none exists (all or nothing; the keys are locked while it decides). */
  msetNx(entries: Record<string, Value> | Iterable<readonly [Key, Value]>): Promise<boolean> {
    try {
      const pairs = this.#ready(() => entriesArg(entries, this.options.maxValueBytes));
      const keys = pairs.map((p) => p[0]);
      return this.#withLocks(keys, async () => {
        if (((await this.#multi(Op.EXISTS, keys, undefined, false, true)) as number) > 0) return false;
        await this.#multi(
          Op.MSET,
          keys,
          pairs.map((p) => p[1]),
          false,
          true,
        );
        return true;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A random key of the cluster, or null when it is empty. */
  async randomKey(): Promise<string | Buffer | null> {
    const ids = this.#ready(() => this.#shardIds());
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    for (const id of ids) {
      const k = (await this.#handles.get(id)!.send(Op.RANDOMKEY, '', undefined)) as string | null;
      if (k !== null) return externalKey(k);
    }
    return null;
  }

  /** Adds a float to the number at key (missing counts as 0); resolves with the new value as text. Keeps the TTL. */
  incrByFloat(key: Key, increment: number): Promise<string> {
    return this.#one(Op.INCRBYFLOAT, key, () => {
      if (typeof increment !== 'number' || !Number.isFinite(increment))
        throw einval(`increment must be a finite number, got ${describe(increment)}`);
      return increment;
    }) as Promise<string>;
  }

  /** Appends to the value (creating it); resolves with the new length in bytes. Keeps the TTL. */
  append(key: Key, value: Value): Promise<number> {
    return this.#one(Op.APPEND, key, () => valueArg(value, this.options.maxValueBytes)) as Promise<number>;
  }

  /** The value's length in bytes; 0 when missing. */
  strlen(key: Key): Promise<number> {
    return this.#one(Op.STRLEN, key, () => undefined) as Promise<number>;
  }

  /** Bytes `start`..`end` of the value, inclusive; negative offsets count from the end (Redis GETRANGE). */
  getRange(key: Key, start: number, end: number): Promise<string | Buffer> {
    return this.#one(Op.GETRANGE, key, () => {
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw einval('start and end must be integers');
      return [start, end];
    }) as Promise<string | Buffer>;
  }

  /** Overwrites from byte `offset` on (zero-padding a gap); resolves with the new length. Keeps the TTL. */
  setRange(key: Key, offset: number, value: Value): Promise<number> {
    return this.#one(Op.SETRANGE, key, () => {
      if (!Number.isSafeInteger(offset) || offset < 0) throw einval(`offset must be a non-negative integer, got ${describe(offset)}`);
      const v = valueArg(value, this.options.maxValueBytes);
      if (offset + (typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength) > this.options.maxValueBytes) {
        throw einval(`offset is out of range: the value would pass ${this.options.maxValueBytes} bytes`);
      }
      return [offset, v];
    }) as Promise<number>;
  }

  /** The value, removing the key. */
  getDel(key: Key): Promise<string | Buffer | null> {
    return this.#one(Op.GETDEL, key, () => undefined) as Promise<string | Buffer | null>;
  }

  /** The value, and sets its TTL (`ex`/`px`/`exat`/`pxat`) or removes it (`persist`). */
  getEx(
    key: Key,
    options: { ex?: number; px?: number; exat?: number; pxat?: number; persist?: boolean } = {},
  ): Promise<string | Buffer | null> {
    return this.#one(Op.GETEX, key, () => {
      if (options === null || typeof options !== 'object') throw einval('options must be an object');
      const given = (['ex', 'px', 'exat', 'pxat', 'persist'] as const).filter((k) => options[k] !== undefined && options[k] !== false);
      if (given.length > 1) throw einval('options may set only one of ex, px, exat, pxat and persist');
      if (options.persist === true) return -1;
      if (options.ex !== undefined) return Date.now() + durationArg(options.ex, 'options.ex', 1000);
      if (options.px !== undefined) return Date.now() + durationArg(options.px, 'options.px', 1);
      if (options.exat !== undefined) return instantArg(options.exat, 'options.exat', 1000);
      if (options.pxat !== undefined) return instantArg(options.pxat, 'options.pxat', 1);
      return 0;
    }) as Promise<string | Buffer | null>;
  }

  /** Sets a TTL in seconds (a positive integer). True if the key exists and the condition held. */
  expire(key: Key, seconds: number, mode?: ExpireMode | ExpireMode[]): Promise<boolean> {
    return this.#expire(key, () => Date.now() + durationArg(seconds, 'seconds', 1000), mode);
  }

  pexpire(key: Key, milliseconds: number, mode?: ExpireMode | ExpireMode[]): Promise<boolean> {
    return this.#expire(key, () => Date.now() + durationArg(milliseconds, 'milliseconds', 1), mode);
  }

  /** Expires the key at a Unix time in seconds; a time in the past removes it. */
  expireAt(key: Key, unixSeconds: number, mode?: ExpireMode | ExpireMode[]): Promise<boolean> {
    return this.#expire(key, () => instantArg(unixSeconds, 'unixSeconds', 1000), mode);
  }

  pexpireAt(key: Key, unixMs: number, mode?: ExpireMode | ExpireMode[]): Promise<boolean> {
    return this.#expire(key, () => instantArg(unixMs, 'unixMs', 1), mode);
  }

  /** Removes the TTL. True if there was one. */
  persist(key: Key): Promise<boolean> {
    return this.#one(Op.PERSIST, key, () => undefined) as Promise<boolean>;
  }

  /** Seconds to live (rounded as Redis does), -1 without TTL, -2 when missing. */
  ttl(key: Key): Promise<number> {
    return this.pttl(key).then((ms) => (ms < 0 ? ms : Math.floor((ms + 500) / 1000)));
  }

  /** Milliseconds to live, -1 without TTL, -2 when missing. */
  pttl(key: Key): Promise<number> {
    return this.#one(Op.PTTL, key, () => undefined) as Promise<number>;
  }

  /** Absolute expiry as Unix ms, -1 without TTL, -2 when missing. */
  pexpireTime(key: Key): Promise<number> {
    return this.#one(Op.PEXPIRETIME, key, () => undefined) as Promise<number>;
  }

  // ---- multi-key commands ---------------------------------------------------------------------

  /** Removes keys; resolves with how many existed. */
  del(...keys: Key[]): Promise<number> {
    return this.#countByShard(Op.DEL, keys);
  }

  /** How many of the keys exist (a key named twice counts twice). */
  exists(...keys: Key[]): Promise<number> {
    return this.#countByShard(Op.EXISTS, keys);
  }

  /** Values of many keys, in order; null for missing ones. */
  mget(keys: Key[]): Promise<(string | Buffer | null)[]> {
    try {
      return this.#multi(
        Op.MGET,
        this.#ready(() => keysArg(keys)),
      ) as Promise<(string | Buffer | null)[]>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sets many keys (clearing their TTLs). Every shard's share is sent in the same flush, so a
   * later call from the same caller sees all of it. Each shard applies its share all-or-nothing.
   */
  async mset(entries: Record<string, Value> | Iterable<readonly [Key, Value]>): Promise<void> {
    const pairs = this.#ready(() => entriesArg(entries, this.options.maxValueBytes));
    await this.#multi(
      Op.MSET,
      pairs.map((p) => p[0]),
      pairs.map((p) => p[1]),
    );
  }

  // ---- whole-keyspace commands ----------------------------------------------------------------

  /** Every key matching a glob pattern, across all shards. O(keys): prefer scan() on big data. */
  async keys(pattern = '*'): Promise<(string | Buffer)[]> {
    const p = this.#ready(() => patternArg(pattern, 'pattern'));
    const parts = (await this.#all(Op.KEYS, p)) as KeyList[];
    const listed: string[] = [];
    for (const part of parts) unpackKeys(part, listed);
    // During a migration a key may sit on its old and its new owner for a moment: count it once.
    const all = this.#migration === null && this.#replicas === 1 ? listed : [...new Set(listed)];
    return all.map(externalKey);
  }

  /**
   * One step of a cursor scan over the whole cluster: start with cursor '0', stop when the
   * returned cursor is '0'. Keys present for the whole scan are returned exactly once while
   * the ring does not change. `count` is a hint of work per call (default 10).
   */
  async scan(cursor: string | number = '0', options: { match?: string; count?: number } = {}): Promise<[string, (string | Buffer)[]]> {
    const { pos, slot, match, count, ids } = this.#ready(() => {
      const c = typeof cursor === 'number' ? cursor : Number(cursor);
      if (!Number.isSafeInteger(c) || c < 0 || (typeof cursor === 'string' && !/^[0-9]+$/.test(cursor))) {
        throw einval(`cursor must be a non-negative integer, got ${String(cursor)}`);
      }
      if (options === null || typeof options !== 'object') throw einval('options must be an object');
      const count = options.count ?? 10;
      if (!Number.isSafeInteger(count) || count < 1) throw einval(`options.count must be a positive integer, got ${String(count)}`);
      const match = options.match === undefined ? null : patternArg(options.match, 'options.match');
      return { pos: c % MAX_SCAN_SHARDS, slot: Math.floor(c / MAX_SCAN_SHARDS), match, count, ids: this.#shardIds() };
    });
    if (pos >= ids.length) return ['0', []];
    const handle = this.#handles.get(ids[pos]!)!;
    const [next, list] = (await handle.send(Op.SCAN, '', [slot, match, count])) as [number, KeyList];
    const found = unpackKeys(list);
    // With replicas a key sits on several shards: each returns only the keys it is primary for.
    const keys = this.#replicas === 1 ? found : found.filter((k) => this.#ring.ownerOf(hashInternal(this.options.hash, k)) === handle.id);
    let cursorOut = 0;
    if (next !== 0) cursorOut = next * MAX_SCAN_SHARDS + pos;
    else if (pos + 1 < ids.length) cursorOut = pos + 1;
    return [String(cursorOut), keys.map(externalKey)];
  }

  /** Iterates every key with scan(). */
  async *scanIterator(options: { match?: string; count?: number } = {}): AsyncGenerator<string | Buffer> {
    let cursor = '0';
    do {
      const [next, keys] = await this.scan(cursor, options);
      yield* keys;
      cursor = next;
    } while (cursor !== '0');
  }

  /**
   * Keys in the whole cluster. With replicas, the copies counted over all shards divided by the
   * replica count: exact when stable, approximate while a migration or refill runs.
   */
  async dbsize(): Promise<number> {
    const sizes = (await this.#all(Op.DBSIZE, '')) as number[];
    const copies = sizes.reduce((a, b) => a + b, 0);
    return this.#replicas === 1 ? copies : Math.round(copies / Math.min(this.#replicas, this.#ring.size));
  }

  /**
   * Removes every key from every shard. Queued at once when no membership change runs, so ops
   * issued after it (a later command of a pipeline) come after it on every shard.
   */
  async flushall(): Promise<void> {
    this.#ready(() => undefined);
    // A migration in flight could import keys after the flush: let membership changes finish first.
    if (this.#changes > 0) await this.#membership;
    this.#ready(() => undefined);
    // A shard left down refuses the op at once and never reports a flush: not waited for.
    this.#replication?.beforeFlush(this.#shardIds().filter((id) => this.#handles.get(id)!.state !== 'down'));
    await this.#all(Op.FLUSHALL, '');
    // Nothing is missing from an empty data set.
    this.#dataLoss = { keysLost: 0, crashes: 0, since: 0 };
    this.#lostSets.clear();
  }

  /** Counters of every shard and their totals. */
  async stats(): Promise<ClusterStats> {
    this.#ready(() => undefined);
    const ids = this.#shardIds();
    const shards = await Promise.all(
      ids.map(async (id): Promise<ShardReport> => {
        const h = this.#handles.get(id)!;
        try {
          const stats = (await h.send(Op.STATS, '', undefined)) as ShardStats;
          // Reads answered in place count as the shard's own (keyspace hits and misses, ops).
          const { reads, hits } = h.inPlace;
          stats.hits += hits;
          stats.misses += reads - hits;
          stats.ops += reads;
          return { ...info(h), stats };
        } catch {
          return info(h);
        }
      }),
    );
    const totals = { keys: 0, bytes: 0, maxBytes: 0, hits: 0, misses: 0, evictions: 0, expired: 0, ops: 0, volatileKeys: 0 };
    for (const s of shards) {
      if (s.stats === undefined) continue;
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += s.stats[k];
    }
    const out: ClusterStats = { epoch: this.epoch, state: this.#state, shards, totals };
    const loss = this.dataLoss;
    if (loss !== null) out.dataLoss = loss;
    return out;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * Test and chaos hook (needs `faultInjection: true`): makes a shard's worker exit, throw, hang,
   * or ('boot-loop') exit and die at every restart until it is left down.
   */
  injectFault(shardId: number, kind: FaultKind): void {
    if (!this.options.faultInjection) throw einval('fault injection is off (options.faultInjection)');
    const h = this.#handles.get(shardId);
    if (h === undefined) throw einval(`no shard ${shardId}`);
    h.injectFault(kind);
  }

  /** Resolves when every shard is ready (after a crash, when its replacement is). */
  async whenReady(): Promise<void> {
    await Promise.all([...this.#handles.values()].map((h) => h.ready()));
  }

  /** Graceful: refuses new ops (CLOSED), lets queued and in-flight ops finish, then stops every thread. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown(true);
    return this.#closing;
  }

  /** Immediate: rejects everything pending with CLOSED and stops every thread. */
  destroy(): Promise<void> {
    if (this.#state === 'closed') return Promise.resolve();
    this.#closing = this.#shutdown(false);
    return this.#closing;
  }

  async #shutdown(drain: boolean): Promise<void> {
    this.#state = 'closing';
    this.#host.close();
    if (drain) await this.#membership;
    const handles = [...this.#handles.values()];
    if (drain) {
      while (handles.some((h) => h.pending > 0)) await Promise.all(handles.map((h) => h.idle()));
    }
    const closed = new CacheError('CLOSED', 'the cluster is closed');
    await Promise.all(handles.map((h) => h.close(closed)));
    this.#bus.close();
    this.#state = 'closed';
  }

  async #start(): Promise<void> {
    for (let i = 0; i < this.options.shards; i++) {
      const id = this.#nextId++;
      this.#ring.add(id, `node-${id}`);
    }
    const budgets = this.#budgets(this.#ring.shardIds());
    if (this.#replicas > 1) this.#groupTables = groupTables(this.#ring, this.#replicas);
    for (const id of this.#ring.shardIds()) this.#handles.set(id, this.#spawnShard(id, this.#ring.nameOf(id)!, budgets.get(id)!));
    try {
      await this.whenReady();
    } catch (err) {
      await this.destroy();
      throw err;
    }
    this.#state = 'ready';
    this.#announce({ type: 'epoch', epoch: this.epoch, shards: this.#ring.shardIds() });
  }

  /**
   * maxMemoryBytes split over shards `ids`: equal shares, the remainder a byte each to the first,
   * so they add up to it exactly (0 each when unlimited).
   */
  #budgets(ids: number[]): Map<number, number> {
    const total = this.options.maxMemoryBytes;
    const sorted = [...ids].sort((a, b) => a - b);
    const share = Math.floor(total / sorted.length);
    const extra = total - share * sorted.length;
    return new Map(sorted.map((id, i) => [id, share + (i < extra ? 1 : 0)]));
  }

  /** Splits maxMemoryBytes again over the shards with a worker, each told its new budget. */
  #rebudget(): void {
    for (const [id, maxBytes] of this.#budgets(this.#shardIds())) this.#handles.get(id)!.setMaxBytes(maxBytes);
  }

  /** Tells every shard the replica sets to count its keys by (replicas ≥ 2), after a ring change. */
  #sendGroups(): void {
    if (this.#replicas === 1) return;
    this.#groupVersion++;
    this.#groupTables = groupTables(this.#ring, this.#replicas);
    for (const h of this.#handles.values()) this.#setGroups(h);
  }

  /** Gives a shard its GroupTable of the current ring (none for a shard the ring does not hold yet). */
  #setGroups(h: ShardHandle): void {
    const { los, groups, sets } = this.#groupTables.get(h.id) ?? NO_GROUPS;
    h.setGroups({ version: this.#groupVersion, los, groups, size: sets.length }, sets);
  }

  #spawnShard(id: number, name: string, maxBytes: number): ShardHandle {
    const o = this.options;
    const h = new ShardHandle(
      {
        shardId: id,
        name,
        epoch: this.#ring.epoch,
        maxBytes,
        policy: o.evictionPolicy,
        channelName: this.#bus.channelName,
        faults: o.faultInjection,
        replicate: this.#replication !== null,
      },
      o,
      {
        onCrash: (h, reason, lost, restarting, held) => this.#onCrash(h, reason, lost, restarting, held),
        onReady: (h, restart) => this.#onShardReady(h, restart),
        onWrongEpoch: (h, ops, resolves, rejects) => this.#reroute(h, ops, resolves, rejects),
        onEffects: (h, effects, flushes) => this.#replication?.onEffects(h.id, effects, flushes),
      },
      this.#gate,
    );
    if (this.#replicas > 1) this.#setGroups(h);
    return h;
  }

  /** Every shard with a worker, by id: the ring's, plus one being removed until its keys moved. */
  #shardIds(): number[] {
    return [...this.#handles.keys()].sort((a, b) => a - b);
  }

  // ---- membership -----------------------------------------------------------------------------

  #change<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#state !== 'ready') return Promise.reject(new CacheError('CLOSED', `the cluster is ${this.#state}`));
    if (this.options.hash !== fingerprint32) {
      // Shards find the keys to move by hashing them with farmhash: another hash would move the wrong keys.
      return Promise.reject(einval('membership changes need the default hash (options.hash is for placement tests only)'));
    }
    return this.#exclusive(fn);
  }

  /** Runs `fn` after the membership changes queued before it, and before any queued after. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.#changes++;
    const run = this.#membership.then(fn).finally(() => this.#changes--);
    this.#membership = run.catch(() => undefined);
    return run;
  }

  async #add(): Promise<ShardInfo> {
    this.#ready(() => undefined);
    if (this.#handles.size >= this.options.maxShards) {
      throw new CacheError('LIMIT', `the cluster already has ${this.#handles.size} shards (options.maxShards)`);
    }
    const id = this.#nextId++;
    const name = `node-${id}`;
    // The newcomer gets its share now; the others shrink to theirs once their keys moved to it.
    const handle = this.#spawnShard(id, name, this.#budgets([...this.#handles.keys(), id]).get(id)!);
    try {
      await handle.ready();
    } catch (err) {
      await handle.close(new CacheError('SHARD_UNAVAILABLE', `shard ${name} failed to start`));
      throw err;
    }
    this.#handles.set(id, handle);
    const next = this.#ring.clone();
    next.add(id, name);
    try {
      await this.#moveTo(next, 'add', id);
    } finally {
      this.#rebudget();
    }
    return info(handle);
  }

  async #remove(id: number): Promise<void> {
    this.#ready(() => undefined);
    if (!this.#ring.has(id)) throw new CacheError('NOT_FOUND', `no shard ${id} in the cluster`);
    if (this.#ring.size === 1) throw new CacheError('LIMIT', 'the last shard cannot be removed');
    const handle = this.#handles.get(id)!;
    const next = this.#ring.clone();
    next.remove(id);
    // The others grow to their new shares before its keys come to them.
    for (const [other, maxBytes] of this.#budgets(next.shardIds())) this.#handles.get(other)!.setMaxBytes(maxBytes);
    await this.#moveTo(next, 'remove', id);
    this.#handles.delete(id);
    this.#degraded.delete(id);
    await handle.idle();
    await handle.close(new CacheError('SHARD_UNAVAILABLE', `shard ${handle.name} was removed`));
    const event = { shardId: id, name: handle.name, epoch: this.epoch };
    this.#bus.publish({ type: 'leave', ...event });
    this.emit('leave', event);
  }

  /** Switches routing to `next` (epoch marker on every port first), then moves the data. */
  async #moveTo(next: HashRing, kind: MigrationKind, shardId: number): Promise<void> {
    const ranges = movingRanges(this.#ring, next, this.#replicas);
    for (const r of ranges) r.source = r.from.find((id) => !this.#degraded.has(id)) ?? r.from[0]!;
    const migration = new Migration(kind, shardId, next.epoch, ranges);
    for (const h of this.#handles.values()) h.setEpoch(next.epoch);
    this.#ring = next;
    this.#sendGroups();
    this.#migration = migration;
    this.#announce({ type: 'epoch', epoch: next.epoch, shards: next.shardIds() });
    this.#migrationEvent('start', migration);
    await migration.run(this.#migrationHost(), this.options.migrationConcurrency);
    this.#migration = null;
    this.#pruneLostSets();
    this.#migrationEvent('done', migration);
  }

  /** Forgets lost replica sets none of whose members still waits for a refill. */
  #pruneLostSets(): void {
    for (const set of this.#lostSets.keys()) {
      if (!set.split(',').some((x) => this.#degraded.has(Number(x)) && this.#handles.has(Number(x)))) this.#lostSets.delete(set);
    }
  }

  #migrationHost() {
    return {
      handle: (id: number) => this.#handles.get(id),
      usable: (id: number) => this.#handles.has(id) && !this.#degraded.has(id),
      onProgress: () => undefined,
    };
  }

  /**
   * Refills the replacement of a crashed shard from the other copies (replicas ≥ 2). If the
   * replacement itself dies during the refill, the refill runs again on the next one: `whole` is
   * only reported for a shard that came through a whole refill alive and whose every range found
   * a live copy; one some of whose ranges had lost every copy reports `incomplete`, with the keys gone.
   */
  async #refill(id: number): Promise<void> {
    const handle = this.#handles.get(id);
    for (;;) {
      if (handle === undefined || !this.#ring.has(id) || !this.#degraded.has(id) || this.#state !== 'ready') return;
      try {
        await handle.ready();
      } catch {
        return; // left down: its keys keep their other copies
      }
      const crashes = handle.crashes;
      const ranges = refillRanges(this.#ring, id, this.#replicas);
      for (const r of ranges) r.source = r.from.find((x) => !this.#degraded.has(x)) ?? r.from[0]!;
      const migration = new Migration('refill', id, this.epoch, ranges);
      this.#migration = migration;
      this.#migrationEvent('start', migration);
      await migration.run(this.#migrationHost(), this.options.migrationConcurrency);
      this.#migration = null;
      this.#migrationEvent('done', migration);
      if (handle.crashes === crashes && handle.state === 'ready' && migration.errors.length === 0) {
        // Its sets that lost every copy: the refill found nothing of those keys anywhere.
        let keysLost = 0;
        for (const [set, n] of this.#lostSets) if (set.split(',').map(Number).includes(id)) keysLost += n;
        this.#degraded.delete(id);
        this.#pruneLostSets();
        const durationMs = Date.now() - migration.startedAt;
        const event = { shardId: id, name: handle.name, keysRefilled: migration.keysMoved, durationMs };
        if (keysLost === 0) this.emit('whole', event);
        else this.emit('incomplete', { ...event, keysLost });
        return;
      }
    }
  }

  #migrationEvent(phase: 'start' | 'done', m: Migration): void {
    this.#host.changed();
    const event: MigrationEvent = { phase, ...m.status() };
    if (phase === 'done') event.durationMs = Date.now() - m.startedAt;
    this.#bus.publish({ type: 'migration', phase, epoch: m.epoch, kind: m.kind, shardId: m.shardId, keysMoved: m.keysMoved });
    this.emit('migration', event);
  }

  #announce(event: MembershipEvent): void {
    this.#host.changed();
    this.#bus.publish(event);
    if (event.type === 'epoch') this.emit('epoch', { epoch: event.epoch, shards: event.shards });
  }

  #onShardReady(h: ShardHandle, restart: boolean): void {
    this.#host.changed();
    const event = { shardId: h.id, name: h.name, epoch: this.epoch };
    this.#bus.publish({ type: 'join', ...event });
    this.emit('join', { ...event, restart });
  }

  #onCrash(h: ShardHandle, reason: string, lost: number, restarting: boolean, held: Held): void {
    // A dead source: with one copy its ranges have nothing left to move and flip now (writes go
    // to the new owner, not to an empty replacement nobody exports); with replicas another copy
    // exports them.
    this.#host.changed();
    this.#migration?.sourceDied(h.id);
    let keysLost = held.keys;
    if (this.#replicas > 1 && this.#handles.has(h.id)) {
      // Reads skip the replacement until it is refilled; the refill queues behind any change in progress.
      const queued = this.#degraded.has(h.id);
      this.#degraded.add(h.id);
      keysLost = this.#lostWith(h.id, held.bySet);
      // A refill already queued or running for this shard starts over on the new replacement.
      if (restarting && !queued) this.#change(() => this.#refill(h.id)).catch(() => undefined);
    }
    // Keys gone with one copy: replicas still hold them (they resynchronise from scratch).
    this.#replication?.onCrash(h.id);
    if (keysLost > 0) this.#replication?.onDataLoss(h.id);
    if (keysLost > 0) {
      this.#dataLoss.keysLost += keysLost;
      this.#dataLoss.crashes++;
      if (this.#dataLoss.since === 0) this.#dataLoss.since = Date.now();
    }
    const event = { shardId: h.id, name: h.name, epoch: this.epoch, reason };
    this.#bus.publish({ type: 'crash', ...event });
    this.emit('crash', { ...event, lost, restarting, keysLost });
  }

  /**
   * The keys whose every copy died with shard `id` (replicas ≥ 2): in each replica set it held
   * keys in whose other members all wait for a refill too (or are gone), the keys it held that
   * none of them holds. A member's replacement has taken the set's writes since its own crash
   * (and what its refill brought), never a key the dead shard lacked: the most any holds is kept.
   * Exact when the shards' last reports are current and no membership change runs.
   */
  #lostWith(id: number, bySet: Map<string, number>): number {
    let total = 0;
    for (const [set, count] of bySet) {
      const others = set
        .split(',')
        .map(Number)
        .filter((x) => x !== id);
      if (!others.every((x) => this.#degraded.has(x) || !this.#handles.has(x))) continue;
      let kept = 0;
      for (const x of others) kept = Math.max(kept, this.#handles.get(x)?.heldIn(set) ?? 0);
      const lost = count - kept;
      if (lost <= 0) continue;
      total += lost;
      this.#lostSets.set(set, (this.#lostSets.get(set) ?? 0) + lost);
    }
    return total;
  }

  // ---- routing --------------------------------------------------------------------------------

  /** Throws CLOSED unless the cluster serves; otherwise returns `fn()`. */
  #ready<T>(fn: () => T): T {
    if (this.#state !== 'ready') throw new CacheError('CLOSED', `the cluster is ${this.#state}`);
    return fn();
  }

  /**
   * A key hash's copies (primary first) as routing stands now, or the moving range to wait for.
   * A read of a moving range goes to the old copies while no write of the range is waiting: they
   * hold every acknowledged write (writes are held) and drop nothing before the move is
   * confirmed, and ports are FIFO, so the read lands before the drop. Once a write waits, reads
   * wait behind it, so a caller always reads its own writes.
   */
  #members(hash: number, write: boolean): number[] | MovingRange {
    const range = this.#migration === null ? null : this.#migration.find(hash);
    if (range === null) return this.#ring.preferenceList(hash, this.#replicas);
    if (range.state === 'moving') return write || range.held.length > 0 ? range : range.from;
    return range.state === 'old' ? range.from : range.to;
  }

  /** The shard that answers a key's op (for reads, its first copy not waiting for a refill), or the moving range to wait for. */
  #route(key: string, write: boolean): ShardHandle | MovingRange {
    if (this.#state !== 'ready' && !(this.#releasing && this.#state === 'closing'))
      throw new CacheError('CLOSED', `the cluster is ${this.#state}`);
    const hash = hashInternal(this.options.hash, key);
    let id: number;
    if (this.#replicas === 1) {
      // One copy: the hot path, no array.
      const range = this.#migration === null ? null : this.#migration.find(hash);
      if (range === null) id = this.#ring.ownerOf(hash);
      else if (range.state === 'moving') {
        if (write || range.held.length > 0) return range;
        id = range.from[0]!;
      } else id = range.state === 'old' ? range.from[0]! : range.to[0]!;
    } else {
      const members = this.#members(hash, write);
      if (!Array.isArray(members)) return members;
      id = members.find((m) => !this.#degraded.has(m)) ?? members[0]!;
    }
    const h = this.#handles.get(id);
    if (h === undefined) throw new CacheError('SHARD_UNAVAILABLE', 'no shard available');
    return h;
  }

  /**
   * A read (IN_PLACE) answered in this thread from the owner's shared memory, or FALLBACK for the port: the key
   * not locked, its range not waiting on a move, no write of ours to it still on its way, and no
   * write under way in the shard at the moment of the read (DESIGN §9). Throws when closed.
   */
  #readInPlace(op: number, key: string, arg: unknown): unknown {
    if (this.#locks.size > 0 && this.#locks.has(key)) return FALLBACK;
    const target = this.#route(key, false);
    return target instanceof ShardHandle ? target.readInPlace(op, key, arg) : FALLBACK;
  }

  /** Every copy of a key (writes go to all), or the moving range to wait for. */
  #routeAll(key: string): ShardHandle[] | MovingRange {
    if (this.#state !== 'ready' && !(this.#releasing && this.#state === 'closing'))
      throw new CacheError('CLOSED', `the cluster is ${this.#state}`);
    const members = this.#members(hashInternal(this.options.hash, key), true);
    if (!Array.isArray(members)) return members;
    const out: ShardHandle[] = [];
    for (const id of members) {
      const h = this.#handles.get(id);
      if (h !== undefined) out.push(h);
    }
    if (out.length === 0) throw new CacheError('SHARD_UNAVAILABLE', 'no shard available');
    return out;
  }

  /**
   * Sends a keyed op, or holds it until its range has moved. Never throws. With replicas, a write
   * goes to every copy and succeeds if any copy applied it (the others are refilled after a
   * crash); a read that meets a crashed copy is retried once on the next copy.
   */
  #send(op: number, key: string, arg: unknown): Promise<unknown> {
    if (this.#locks.size > 0 && this.#locks.has(key)) return this.#afterLock(key, () => this.#send(op, key, arg));
    return this.#sendUnlocked(op, key, arg);
  }

  /**
   * The shard a Sink op goes straight to: with one copy, the key not locked and its range not
   * moving. Null for anything else, which takes #send's path. Throws when the cluster is closed.
   */
  #directTarget(key: string, write: boolean): ShardHandle | null {
    if (this.#replicas !== 1 || (this.#locks.size > 0 && this.#locks.has(key))) return null;
    const target = this.#route(key, write);
    return target instanceof ShardHandle ? target : null;
  }

  /** #send for a Sink: no promise on the common path. Never throws. */
  #sendTo(op: number, key: string, arg: unknown, sink: Sink): void {
    let target: ShardHandle | null;
    try {
      target = this.#directTarget(key, KEYED_WRITES.has(op));
    } catch (err) {
      sink.fail(err);
      return;
    }
    if (target === null) forward(this.#send(op, key, arg), sink, null);
    else if (IN_PLACE.has(op)) {
      const local = target.readInPlace(op, key, arg);
      if (local !== FALLBACK) sink.done(local);
      else target.sendTo(op, key, arg, sink);
    } else target.sendTo(op, key, arg, sink);
  }

  /** A plain SET of `source[start..end)` for a Sink: on the common path the bytes go to the shard as they are. Never throws. */
  #sendSet(key: string, source: Buffer, start: number, end: number, sink: Sink): void {
    let target: ShardHandle | null;
    try {
      target = this.#directTarget(key, true);
    } catch (err) {
      sink.fail(err);
      return;
    }
    if (target?.sendSet(key, source, start, end, sink)) return;
    const value = valueFromBytes(source, start, end);
    if (target !== null) target.sendTo(Op.SET, key, value, sink);
    else forward(this.#send(Op.SET, key, value), sink, null);
  }

  static {
    sendTo = (cluster, op, key, arg, sink) => cluster.#sendTo(op, key, arg, sink);
    sendSet = (cluster, key, source, start, end, sink) => cluster.#sendSet(key, source, start, end, sink);
    corkTurn = (cluster) => cluster.#gate.corkTurn();
    sendMulti = (cluster, op, keys, values, sink) => cluster.#sendMulti(op, keys, values, sink);
    observeDispatch = (cluster, observer) => {
      cluster.#gate.observers.add(observer);
      return () => cluster.#gate.observers.delete(observer);
    };
    attachReplication = (cluster, hooks) => {
      if (cluster.#replication !== null) throw new Error('replication is already attached to this cluster');
      cluster.#replication = hooks;
      for (const h of cluster.#handles.values()) h.replicate();
    };
    exclusive = (cluster, fn) => cluster.#exclusive(fn);
    shardIdsOf = (cluster) => cluster.#shardIds();
    sendToShard = (cluster, id, op, arg) => {
      const h = cluster.#handles.get(id);
      return h === undefined ? Promise.reject(new CacheError('CLOSED', `no shard ${id}`)) : h.send(op, '', arg);
    };
  }

  /**
   * #multi for a Sink. On the common path (one copy, no key locked, no range moving) each shard's
   * share goes straight to its queue, all in the same flush as #multi does, and a Gather combines
   * the answers; anything else takes #multi. Never throws.
   */
  #sendMulti(op: number, keys: string[], values: (string | Uint8Array)[] | undefined, sink: Sink): void {
    if (this.#replicas !== 1 || this.#migration !== null || this.#locks.size > 0) {
      forward(this.#multi(op, keys, values), sink, null);
      return;
    }
    const parts = new Map<ShardHandle, number[]>();
    try {
      const write = op === Op.MSET || op === Op.DEL;
      for (let i = 0; i < keys.length; i++) {
        const h = this.#route(keys[i]!, write) as ShardHandle;
        const idx = parts.get(h);
        if (idx === undefined) parts.set(h, [i]);
        else idx.push(i);
      }
    } catch (err) {
      sink.fail(err);
      return;
    }
    const gather = new Gather(op, keys.length, parts.size, sink);
    for (const [handle, idx] of parts) {
      const share = values === undefined ? idx.map((i) => keys[i]!) : idx.flatMap((i) => [keys[i]!, values[i]!]);
      handle.sendTo(op, '', share, new GatherPart(gather, idx));
    }
  }

  /** #send without the key-lock check: for the locked commands' own ops. */
  #sendUnlocked(op: number, key: string, arg: unknown, retried = false): Promise<unknown> {
    try {
      const write = KEYED_WRITES.has(op);
      if (this.#replicas > 1 && write) return this.#sendAll(op, key, arg);
      const target = this.#route(key, write);
      if (!(target instanceof ShardHandle)) return this.#hold(target, () => this.#sendUnlocked(op, key, arg));
      const sent = target.send(op, key, arg);
      if (this.#replicas === 1 || retried) return sent;
      return sent.catch((err: unknown) => (isCrash(err) ? this.#sendUnlocked(op, key, arg, true) : Promise.reject(err)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A keyed write to every copy. The copy reads go to (the first not waiting for a refill)
   * answers and decides: the others apply it as a copy (REPLICA_COPY: no memory limit of their
   * own, so they cannot refuse what the answering copy accepted). If the answering copy died,
   * any copy that applied the write answers. Never throws.
   */
  #sendAll(op: number, key: string, arg: unknown): Promise<unknown> {
    try {
      const targets = this.#routeAll(key);
      if (!Array.isArray(targets)) return this.#hold(targets, () => this.#sendAll(op, key, arg));
      const main = targets.find((h) => !this.#degraded.has(h.id)) ?? targets[0]!;
      const sent = targets.map((h) => h.send(h === main ? op : op | REPLICA_COPY, key, arg));
      return Promise.allSettled(sent).then((results) => {
        const first = results[targets.indexOf(main)]!;
        if (first.status === 'fulfilled') return first.value;
        if (!isCrash(first.reason)) throw first.reason;
        const other = results.find((r) => r.status === 'fulfilled');
        if (other !== undefined) return other.value;
        throw first.reason;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Runs `run` once `key` is unlocked (in the order ops arrived). */
  #afterLock<T>(key: string, run: () => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => this.#locks.get(key)!.push(() => run().then(resolve, reject)));
  }

  /**
   * Runs `fn` with `keys` locked: ops on them issued meanwhile wait and then run in order. Ops
   * issued before are already queued on their shards ahead of `fn`'s own (ports are FIFO), so
   * `fn` sees them. Locks are taken all at once, after any holder of one of them is done.
   */
  async #withLocks<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const wanted = [...new Set(keys)];
    for (let busy = wanted.find((k) => this.#locks.has(k)); busy !== undefined; busy = wanted.find((k) => this.#locks.has(k))) {
      await new Promise<void>((resolve) => this.#locks.get(busy!)!.push(resolve));
    }
    for (const k of wanted) this.#locks.set(k, []);
    this.#host.lock(1);
    try {
      return await fn();
    } finally {
      this.#host.lock(-1);
      for (const k of wanted) {
        const waiting = this.#locks.get(k)!;
        this.#locks.delete(k);
        for (const run of waiting) run();
      }
    }
  }

  /**
   * Holds an op until its range has moved, then runs it. While a graceful close waits for the
   * migration, held ops still run (they were accepted before the close).
   */
  #hold<T>(range: MovingRange, run: () => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) =>
      range.held.push(() => {
        this.#releasing = true;
        try {
          run().then(resolve, reject);
        } catch (err) {
          reject(err);
        } finally {
          this.#releasing = false;
        }
      }),
    );
  }

  /** A single-key op; `arg()` validates the rest of the arguments. */
  #one(op: number, key: Key, arg: () => unknown): Promise<unknown> {
    try {
      const k = keyArg(key);
      const a = arg();
      if (IN_PLACE.has(op)) {
        const local = this.#readInPlace(op, k, a);
        if (local !== FALLBACK) return this.#turns.resolve(local);
      }
      return this.#send(op, k, a);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `mode`: one condition, or several (Redis allows XX with GT or LT; NX alone; not GT with LT). */
  #expire(key: Key, at: () => number, mode: ExpireMode | ExpireMode[] | undefined): Promise<boolean> {
    return this.#one(Op.EXPIRE, key, () => {
      const modes = mode === undefined ? [] : Array.isArray(mode) ? mode : [mode];
      let flags = 0;
      for (const m of modes) {
        if (!(m in EXPIRE_FLAGS)) throw einval(`mode must be one of NX, XX, GT, LT, got ${String(m)}`);
        flags |= EXPIRE_FLAGS[m];
      }
      if (flags & ExpireFlag.NX && flags !== ExpireFlag.NX) throw einval('mode NX cannot be combined with XX, GT or LT');
      if (flags & ExpireFlag.GT && flags & ExpireFlag.LT) throw einval('modes GT and LT cannot be combined');
      return [at(), flags];
    }) as Promise<boolean>;
  }

  /**
   * Groups key positions by shard, keeping each shard's keys in call order. `primary` answers
   * (reads, counts); `copies` are the other replicas of writes; `held` are the keys of moving
   * ranges, which wait for their range while the rest go at once.
   */
  #groupByShard(keys: string[], write: boolean) {
    const primary = new Map<ShardHandle, number[]>();
    const copies = new Map<ShardHandle, number[]>();
    const held = new Map<MovingRange, number[]>();
    const add = <K>(m: Map<K, number[]>, k: K, i: number): void => {
      const g = m.get(k);
      if (g === undefined) m.set(k, [i]);
      else g.push(i);
    };
    for (let i = 0; i < keys.length; i++) {
      const h = this.#route(keys[i]!, write);
      if (!(h instanceof ShardHandle)) {
        add(held, h, i);
        continue;
      }
      add(primary, h, i);
      if (write && this.#replicas > 1) {
        const all = this.#routeAll(keys[i]!);
        if (Array.isArray(all)) for (const c of all) if (c !== h) add(copies, c, i);
      }
    }
    return { primary, copies, held };
  }

  async #countByShard(op: number, keys: Key[]): Promise<number> {
    return (await this.#multi(
      op,
      this.#ready(() => keysArg(keys)),
    )) as number;
  }

  /**
   * A multi-key op (DEL, EXISTS, MGET, MSET) on internal keys: split by shard, every share posted
   * in the same flush, results gathered (sum, values in key order, or true). Keys of a moving
   * range wait for it (only those: holding the whole op would let a later op of the same caller
   * on another of its keys overtake it). With replicas, writes go to every copy and succeed when
   * a copy applied them; a read that met a crashed shard runs once more.
   */
  async #multi(op: number, keys: string[], values?: (string | Uint8Array)[], retried = false, unlocked = false): Promise<unknown> {
    if (!unlocked && this.#locks.size > 0) {
      const locked = keys.find((k) => this.#locks.has(k));
      if (locked !== undefined) return this.#afterLock(locked, () => this.#multi(op, keys, values, retried));
    }
    const write = op === Op.DEL || op === Op.MSET;
    const { primary, copies, held } = this.#groupByShard(keys, write);
    const share = (idx: number[]): unknown[] =>
      values === undefined ? idx.map((i) => keys[i]!) : idx.flatMap((i) => [keys[i]!, values[i]!]);
    const groups = [...primary];
    const copyResults = Promise.allSettled([...copies].map(([handle, idx]) => handle.send(op | REPLICA_COPY, '', share(idx))));
    const heldParts = [...held].map(([range, idx]) =>
      this.#hold(range, () =>
        this.#multi(
          op,
          idx.map((i) => keys[i]!),
          values === undefined ? undefined : idx.map((i) => values[i]!),
          false,
          unlocked,
        ),
      ),
    );
    const settled = await Promise.allSettled(groups.map(([handle, idx]) => handle.send(op, '', share(idx))));
    const failed = settled.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed !== undefined) {
      const crash = this.#replicas > 1 && isCrash(failed.reason);
      // Reads are idempotent and order-free: run again past the crashed shard.
      if (crash && !write && !retried) return this.#multi(op, keys, values, true, unlocked);
      // Writes reached the other copies too; if each key's write was applied somewhere, it stands.
      if (!crash || !(await copyResults).every((r) => r.status === 'fulfilled')) throw failed.reason;
    }
    await copyResults;
    const parts = settled.map((r) => (r.status === 'fulfilled' ? r.value : 0));
    const heldValues = await Promise.all(heldParts);
    if (op === Op.MSET) return true;
    if (op !== Op.MGET) return [...(parts as number[]), ...(heldValues as number[])].reduce((a, b) => a + b, 0);
    const out = new Array<string | Buffer | null>(keys.length);
    groups.forEach(([, idx], g) => {
      const vals = parts[g] as (string | Uint8Array | null)[];
      for (let j = 0; j < idx.length; j++) out[idx[j]!] = toValue(vals[j]!);
    });
    [...held.values()].forEach((idx, h) => {
      const vals = heldValues[h] as (string | Buffer | null)[];
      for (let j = 0; j < idx.length; j++) out[idx[j]!] = vals[j]!;
    });
    return out;
  }

  /** Sends one op to every shard. */
  #all(op: number, key: string): Promise<unknown[]> {
    try {
      this.#ready(() => undefined);
      return Promise.all(this.#shardIds().map((id) => this.#handles.get(id)!.send(op, key, undefined)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Routes the ops of a refused batch again under the current epoch: keyed ops by their key,
   * multi-key ops split again, whole-shard ops (KEYS, SCAN, DBSIZE, STATS...) back to the same shard.
   */
  #reroute(from: ShardHandle, ops: unknown[], resolves: Receiver[], rejects: Rejecter[]): void {
    for (let i = 0; i < resolves.length; i++) {
      const op = ops[i * 3] as number;
      const key = ops[i * 3 + 1] as string;
      const arg = ops[i * 3 + 2];
      try {
        if (MULTI_KEY_OPS.has(op)) {
          const list = arg as (string | Uint8Array)[];
          const keys = op === Op.MSET ? list.filter((_, j) => j % 2 === 0) : list;
          const values = op === Op.MSET ? list.filter((_, j) => j % 2 === 1) : undefined;
          forward(this.#multi(op, keys as string[], values), resolves[i]!, rejects[i] as Rejecter);
        } else if (KEYLESS_OPS.has(op) || MIGRATION_OPS.has(op & ~REPLICA_COPY) || (op & REPLICA_COPY) !== 0) {
          // Whole-shard ops, migration ops (their plan indices belong to this shard), and a
          // write's copy for this shard (the answering copy is re-routed on its own).
          from.requeue([op, key, arg], [resolves[i]!], [rejects[i] as Rejecter]);
        } else forward(this.#send(op, key, arg), resolves[i]!, rejects[i] as Rejecter);
      } catch (err) {
        fail(resolves[i]!, rejects[i] as Rejecter, err);
      }
    }
  }
}

const MULTI_KEY_OPS = new Set<number>([Op.DEL, Op.EXISTS, Op.MGET, Op.MSET]);

/** Combines the per-shard answers of a multi-key op sent by #sendMulti; the first failure wins. */
class Gather {
  readonly #op: number;
  readonly #sink: Sink;
  #left: number;
  #sum = 0;
  readonly #values: (string | Buffer | null)[] | null;
  #failed = false;

  constructor(op: number, keys: number, parts: number, sink: Sink) {
    this.#op = op;
    this.#sink = sink;
    this.#left = parts;
    this.#values = op === Op.MGET ? new Array<string | Buffer | null>(keys) : null;
  }

  part(idx: number[], result: unknown): void {
    if (this.#failed) return;
    if (this.#values !== null) {
      const vals = result as (string | Uint8Array | null)[];
      for (let j = 0; j < idx.length; j++) this.#values[idx[j]!] = toValue(vals[j]!);
    } else if (this.#op !== Op.MSET) this.#sum += result as number;
    if (--this.#left === 0) this.#sink.done(this.#values ?? (this.#op === Op.MSET ? true : this.#sum));
  }

  fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#sink.fail(err);
  }
}

/** One shard's share of a Gather. */
class GatherPart implements Sink {
  readonly #gather: Gather;
  readonly #idx: number[];
  constructor(gather: Gather, idx: number[]) {
    this.#gather = gather;
    this.#idx = idx;
  }
  done(value: unknown): void {
    this.#gather.part(this.#idx, value);
  }
  fail(err: unknown): void {
    this.#gather.fail(err);
  }
}
/** Keyed ops that change data: with replicas they go to every copy. */
const KEYED_WRITES = new Set<number>([
  Op.SET,
  Op.SET_EX,
  Op.INCRBY,
  Op.EXPIRE,
  Op.PERSIST,
  Op.APPEND,
  Op.SETRANGE,
  Op.GETDEL,
  Op.GETEX,
  Op.INCRBYFLOAT,
]);

const KEYLESS_OPS = new Set<number>([Op.KEYS, Op.SCAN, Op.DBSIZE, Op.FLUSHALL, Op.STATS, Op.RANDOMKEY]);
/** Migration ops: their plan indices and ranges belong to the shard they were sent to. */
const MIGRATION_OPS = new Set<number>([
  Op.MIG_PLAN,
  Op.MIG_EXPORT,
  Op.MIG_DROP,
  Op.MIG_END,
  Op.MIG_EXPORT_RANGE,
  Op.MIG_DROP_RANGE,
  Op.MIG_REPLACE,
]);

function info(h: ShardHandle): ShardInfo {
  return { id: h.id, name: h.name, state: h.state, crashes: h.crashes, pending: h.pending, batches: h.batches, batchedOps: h.batchedOps };
}

function toValue(v: string | Uint8Array | null): string | Buffer | null {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
}

function entriesArg(entries: unknown, maxBytes: number): [string, string | Uint8Array][] {
  if (entries === null || typeof entries !== 'object') throw einval('entries must be an object or an iterable of [key, value]');
  const list: [unknown, unknown][] = Symbol.iterator in entries ? [...(entries as Iterable<[unknown, unknown]>)] : Object.entries(entries);
  if (list.length === 0) throw einval('entries must hold at least one [key, value]');
  return list.map((e, i) => {
    if (!Array.isArray(e) || e.length !== 2) throw einval(`entries[${i}] must be a [key, value] pair`);
    return [keyArg(e[0], `entries[${i}] key`), valueArg(e[1], maxBytes, `entries[${i}] value`)];
  });
}

/** Starts a cluster and resolves when every shard is ready. */
export function createCluster(options?: ClusterOptions): Promise<Cluster> {
  return Cluster.create(options);
}
