// The messages between the coordinator and its shard workers: tagged unions and op codes, no logic.
// Must never import anything of the project.
import type { MessagePort } from 'node:worker_threads';
import type { WireError } from './errors.js';

/**
 * Op codes. A batch carries ops flat, three slots per op: `[op, key, arg, op, key, arg, ...]`,
 * which keeps structured clone to one array per batch instead of one object per op.
 * `key` is the shard-internal key string (see src/keys.ts); `arg` depends on the op.
 */
export const Op = {
  /** arg: unused. Result: value or null. */
  GET: 1,
  /** arg: value. Plain SET, no options. Result: true. */
  SET: 2,
  /** arg: [value, flags (SetFlag bits), expireAtMs (0 = none)]. Result: boolean, or old value with GET. */
  SET_EX: 3,
  /** key unused; arg: keys[]. Result: number of keys removed. */
  DEL: 4,
  /** key unused; arg: keys[]. Result: number of keys that exist (repeats count). */
  EXISTS: 5,
  /** arg: delta (number or bigint). Result: new value (number, or decimal string past 2^53). */
  INCRBY: 6,
  /** key unused; arg: keys[]. Result: values[] (null for missing). */
  MGET: 7,
  /** key unused; arg: [k1, v1, k2, v2, ...]. Result: true. */
  MSET: 8,
  /** arg: [expireAtMs, flags (ExpireFlag bits)]. Result: boolean (timeout set). */
  EXPIRE: 9,
  /** arg: unused. Result: boolean (timeout removed). */
  PERSIST: 10,
  /** arg: unused. Result: ms left, -1 without TTL, -2 missing. */
  PTTL: 11,
  /** key: glob pattern. Result: the keys, an array or packed (a KeyList, src/key-list.ts). */
  KEYS: 12,
  /** arg: [cursor, pattern or null, count]. Result: [nextCursor, the keys as a KeyList (src/key-list.ts)]. */
  SCAN: 13,
  /** Result: number of keys. */
  DBSIZE: 14,
  /** Result: true. */
  FLUSHALL: 15,
  /** Result: ShardStats. */
  STATS: 16,
  /** arg: unused. Result: absolute expiry ms, -1 without TTL, -2 missing. */
  PEXPIRETIME: 17,
  /** Migration, source side. arg: moving hash ranges [lo, hi, ...]. Result: keys per range. */
  MIG_PLAN: 18,
  /** arg: [range index, offset, most entries, most value bytes]. Result: an entries buffer (workers/entries.ts) with the next offset. */
  MIG_EXPORT: 19,
  /** Source side, after the destination confirmed. arg: [range index, limit]. Result: keys left to drop. */
  MIG_DROP: 21,
  /** Source side: closes the plan. Result: true. */
  MIG_END: 22,
  /** Fallback export without a plan (a replica standing in for a dead source): arg [lo, hi]. Scans every key. */
  MIG_EXPORT_RANGE: 23,
  /** Fallback drop without a plan: arg [lo, hi]. Result: keys deleted. */
  MIG_DROP_RANGE: 24,
  /** Refill destination: arg [range index in its plan, entries buffer, first chunk?]. The first chunk drops its keys of the range. */
  MIG_REPLACE: 25,
  /** arg: value. Result: new length in bytes. */
  APPEND: 26,
  /** Result: length in bytes (0 when missing). */
  STRLEN: 27,
  /** arg: [start, end]. Result: the byte range. */
  GETRANGE: 28,
  /** arg: [offset, value]. Result: new length. */
  SETRANGE: 29,
  /** Result: the value or null; the key is gone. */
  GETDEL: 30,
  /** arg: absolute expiry ms, -1 to persist, 0 to keep. Result: the value or null. */
  GETEX: 31,
  /** arg: increment (a finite number). Result: the new value as decimal text. */
  INCRBYFLOAT: 32,
  /** Result: [value, absolute expiry ms or 0] or null (RENAME and COPY read their source with it). */
  ENTRY: 33,
  /** key unused. Result: a random live key of the shard, or null. */
  RANDOMKEY: 34,
  /**
   * A plain SET whose value travels as bytes in the batch's `bytes` (src/value-bytes.ts): arg is
   * a ValueRef into them. The shard makes the value (network front ends: no string per value on
   * the coordinator, no value cloned one by one). Result: true.
   */
  SET_BYTES: 35,
  /**
   * GET for a network front end: the value comes back as bytes in the reply's `bytes` and the
   * result is a ValueRef into them (null when missing; the value itself past MAX_REF_BYTES).
   */
  GET_BYTES: 36,
  /**
   * Replication snapshot: arg [from slot, most entries, most bytes]. Result: [RDB records
   * (src/rdb/format.ts), next slot or -1 at the end, entries, entries with an expiry].
   */
  RDB_DUMP: 37,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/**
 * Or'ed into a write's op code for the copies that do not answer (replicas ≥ 2): they apply it
 * without a memory limit of their own, since the answering copy already decided (DESIGN §4).
 */
export const REPLICA_COPY = 0x100;

/** Most entries in one migration chunk (export, import or drop op). */
export const MIGRATION_CHUNK = 256;
/** Most bytes of values in one migration chunk: a chunk ends at whichever limit comes first. */
export const MIGRATION_CHUNK_BYTES = 1024 * 1024;
/** The `next` of a range's last chunk (workers/entries.ts). */
export const CHUNKS_DONE = 0xffffffff;

/** SET option bits. */
export const SetFlag = { NX: 1, XX: 2, KEEPTTL: 4, GET: 8 } as const;
/** EXPIRE option bits. */
export const ExpireFlag = { NX: 1, XX: 2, GT: 4, LT: 8 } as const;

/** Per-shard counters, as a shard reports them. */
export interface ShardStats {
  keys: number;
  /** Estimated bytes held: key and value bytes plus a fixed per-entry overhead. */
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  expired: number;
  ops: number;
  /** Keys that carry a TTL. */
  volatileKeys: number;
  /** Membership announcements this shard heard on the BroadcastChannel, and the newest epoch in them. */
  announcements: number;
  announcedEpoch: number;
}

/**
 * Which replica set each run of the hash space puts a shard's keys in (replicas ≥ 2): the shard
 * counts its keys per set, so that the coordinator knows, when shards die, how many keys lost
 * their every copy. Sent again on every ring change.
 */
export interface GroupTable {
  /** Increases with every table the coordinator makes; counts report the version they follow. */
  version: number;
  /** The first hash of each run, ascending, from 0. */
  los: Uint32Array;
  /** Each run's set: an index below `size`, or -1 for runs whose copies do not include this shard. */
  groups: Int32Array;
  /** Sets in the table. */
  size: number;
}

/** What a shard worker is started with (workerData). */
export interface ShardInit {
  shardId: number;
  name: string;
  epoch: number;
  maxBytes: number;
  policy: EvictionPolicy;
  channelName: string;
  /** Accept fault-injection messages (tests and the chaos check only). */
  faults: boolean;
  /** Fault injection: exit before ready, to test the boot-failure limit. */
  bootFault?: boolean;
  /** Record replication effects from the start (a leader with replicas; see 'replicate'). */
  replicate?: boolean;
  /** Count keys per replica set by this table (replicas ≥ 2; see 'groups'). */
  groups?: GroupTable;
  /** The shard's end of its dedicated channel to the coordinator (set when the worker is spawned). */
  port?: MessagePort;
  /** The shared memory the shard keeps its entries in (made fresh for every worker; src/shared/layout.ts). */
  memory?: ShardMemory;
}

/** A shard's shared memory (layout in src/shared/layout.ts): structured-clonable to any thread of the process. */
export interface ShardMemory {
  control: SharedArrayBuffer;
  index: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  segments: SharedArrayBuffer[];
}

export type EvictionPolicy = 'noeviction' | 'allkeys-lru';

/**
 * Coordinator → shard. A batch with SET_BYTES ops carries their values' bytes: `bytes` holds the
 * coordinator's value bytes from offset `base` on (it is transferred, not copied).
 */
export type ToShard =
  | { t: 'batch'; id: number; epoch: number; ops: unknown[]; bytes?: ArrayBuffer; base?: number }
  | { t: 'ping'; id: number }
  | { t: 'epoch'; epoch: number }
  /** From now on, report every change as a replication effect (workers/effects.ts). */
  | { t: 'replicate' }
  /** The shard's share of maxmemory changed (shards joined or left): its new budget in estimated bytes. */
  | { t: 'budget'; maxBytes: number }
  /** The ring changed: count keys per replica set by this table from now on (replicas ≥ 2). */
  | { t: 'groups'; table: GroupTable }
  | { t: 'fault'; kind: FaultKind };

/** Faults a test or the chaos check can inject into a shard (with `faultInjection: true`). */
export type FaultKind = 'exit' | 'throw' | 'hang' | 'boot-loop';

/**
 * Shard → coordinator. `errors` is flat `[opIndex, WireError, ...]`, absent when none failed.
 * `bytes` holds the values of the batch's GET_BYTES ops (transferred).
 * `keys` is the shard's key count after the batch: what a crash would lose with one copy.
 * Every message's effects come in the order the shard made them (one port, FIFO).
 * `counts` (replicas ≥ 2, only when they changed): the GroupTable version, then the keys per set.
 */
export type FromShard =
  | { t: 'ready'; shardId: number }
  | {
      t: 'reply';
      id: number;
      results: unknown[];
      keys: number;
      errors?: (number | WireError)[];
      bytes?: ArrayBuffer;
      /** Replication effects of the batch (RESP commands), and how many FLUSHALLs precede them. */
      effects?: ArrayBuffer;
      flushes?: number;
      counts?: number[];
    }
  /** Replication effects of work outside batches (the expiry sweep). */
  | { t: 'effects'; effects: ArrayBuffer }
  | { t: 'wrong-epoch'; id: number; epoch: number; bytes?: ArrayBuffer }
  | { t: 'pong'; id: number; keys: number; counts?: number[] }
  /** The shard's arena grew a segment: readers add it before any later reply. */
  | { t: 'segment'; segment: SharedArrayBuffer };

/** Membership events on the BroadcastChannel (announcements, never what routing depends on). */
export type MembershipEvent =
  | { type: 'join'; shardId: number; name: string; epoch: number }
  | { type: 'leave'; shardId: number; name: string; epoch: number }
  | { type: 'crash'; shardId: number; name: string; epoch: number; reason: string }
  | { type: 'epoch'; epoch: number; shards: number[] }
  | { type: 'migration'; phase: 'start' | 'done'; epoch: number; kind: 'add' | 'remove' | 'refill'; shardId: number; keysMoved: number };
