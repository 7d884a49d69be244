// Applies one batch of flat ops (see Op in src/protocol.ts) to a shard's store, walking ops in
// bounded steps (workers/walks.ts). Plain module so that tests cover it directly; the worker
// entry only moves messages. It must never run a walk's steps out of the batch's op order.
import { isAscii } from 'node:buffer';
import { CacheError, toWire, type WireError } from '../src/errors.js';
import { Op, REPLICA_COPY, SetFlag } from '../src/protocol.js';
import { packValues, refLength, refOffset, valueFromBytes } from '../src/value-bytes.js';
import { dumpPart } from './effects.js';
import { MigrationSource, importEntries } from './migration.js';
import type { ShardStore, Value } from './store.js';
import { WALK_STEP, type Walk, keysWalk, randomKeyWalk, runToEnd, scanBudget, scanWalk } from './walks.js';

/** What ops apply to: the shard's store and its migration state. */
export class Shard {
  readonly store: ShardStore;
  readonly migration: MigrationSource;
  constructor(store: ShardStore) {
    this.store = store;
    this.migration = new MigrationSource(store);
  }
}

/** Results of one batch: one result per op, and flat `[opIndex, WireError, ...]` for failed ops. */
export interface BatchOutcome {
  results: unknown[];
  errors: (number | WireError)[] | undefined;
  /** ArrayBuffers among the results (migration exports), to transfer rather than copy. */
  transfer: ArrayBuffer[] | undefined;
  /** The values of GET_BYTES ops, which their results point into (src/value-bytes.ts). */
  bytes: ArrayBuffer | undefined;
}

/** `bytes` and `base`: the values of the batch's SET_BYTES ops (src/value-bytes.ts). Runs to the end at once. */
export function executeBatch(shard: Shard, ops: unknown[], bytes?: ArrayBuffer, base = 0): BatchOutcome {
  const run = new BatchRun(shard, ops, bytes, base);
  run.run();
  return run.outcome();
}

/** Ops that may run as a walk (walkOf decides): a lookup table by op code. */
const MAY_WALK = new Uint8Array(64);
for (const op of [Op.KEYS, Op.SCAN, Op.RANDOMKEY, Op.MIG_PLAN, Op.MIG_EXPORT_RANGE, Op.MIG_DROP_RANGE, Op.MIG_REPLACE]) MAY_WALK[op] = 1;

/**
 * One batch being applied, op after op in order. An op that walks many keys runs as a Walk
 * (workers/walks.ts) stepped until a deadline, so the batch may take several run() calls; the
 * caller runs nothing else on the shard in between, so every op still sees the ops before it
 * and none after it (a walk sees the keyspace as of its start).
 */
export class BatchRun {
  readonly #shard: Shard;
  readonly #ops: unknown[];
  readonly #results: unknown[];
  #errors: (number | WireError)[] | undefined;
  #transfer: ArrayBuffer[] | undefined;
  #gets = 0;
  readonly #base: number;
  readonly #values: Buffer | undefined;
  /** One check for the whole batch: when every value is ASCII (the common case), none needs its own. */
  readonly #ascii: boolean;
  /** The next op to apply (the walking one while #walk is set). */
  #i = 0;
  #walk: Walk | null = null;
  #leave: (() => void) | null = null;

  constructor(shard: Shard, ops: unknown[], bytes?: ArrayBuffer, base = 0) {
    this.#shard = shard;
    this.#ops = ops;
    this.#base = base;
    this.#results = new Array<unknown>(ops.length / 3);
    this.#values = bytes === undefined ? undefined : Buffer.from(bytes);
    this.#ascii = this.#values !== undefined && isAscii(this.#values);
    shard.store.ops += ops.length / 3;
  }

  /** Whether a walk is in progress (the batch stopped inside it). */
  get walking(): boolean {
    return this.#walk !== null;
  }

  /**
   * Applies ops until the batch is done (true) or a walk's step ends at or past `deadline`
   * (performance.now() ms; false: call again to go on).
   */
  run(deadline = Number.POSITIVE_INFINITY): boolean {
    const ops = this.#ops;
    const n = this.#results.length;
    if (this.#walk !== null && !this.#step(deadline)) return false;
    while (this.#i < n) {
      const i = this.#i;
      try {
        let op = ops[i * 3] as number;
        let arg = ops[i * 3 + 2];
        if (op === Op.SET_BYTES) {
          if (this.#values === undefined) throw new CacheError('INTERNAL', 'SET_BYTES without the batch bytes');
          const at = refOffset(arg as number) - this.#base;
          op = Op.SET;
          const end = at + refLength(arg as number);
          arg = this.#ascii ? this.#values.latin1Slice(at, end) : valueFromBytes(this.#values, at, end);
        } else if (op === Op.GET_BYTES) {
          op = Op.GET;
          this.#gets++;
        }
        const plain = op & ~REPLICA_COPY;
        const walk = plain < 64 && MAY_WALK[plain] === 1 ? walkOf(this.#shard, plain, ops[i * 3 + 1] as string, arg) : null;
        if (walk === null) this.#done(i, executeOp(this.#shard, op, ops[i * 3 + 1] as string, arg));
        else {
          this.#leave = enterOp(this.#shard, op);
          this.#walk = walk;
        }
      } catch (err) {
        this.#fail(i, err);
      }
      if (this.#walk === null) this.#i++;
      else if (!this.#step(deadline)) return false;
    }
    return true;
  }

  /** The results, once run() returned true. */
  outcome(): BatchOutcome {
    const bytes = this.#gets === 0 ? undefined : packValues(this.#ops, this.#results);
    return { results: this.#results, errors: this.#errors, transfer: this.#transfer, bytes };
  }

  /** Steps the walk until it ends (its op done: true) or a step ends past the deadline (false). */
  #step(deadline: number): boolean {
    const walk = this.#walk!;
    try {
      for (;;) {
        const r = walk.next();
        if (r.done) {
          this.#done(this.#i, r.value);
          break;
        }
        if (performance.now() >= deadline) return false;
      }
    } catch (err) {
      this.#fail(this.#i, err);
    }
    this.#walk = null;
    this.#leave!();
    this.#leave = null;
    this.#i++;
    return true;
  }

  #done(i: number, r: unknown): void {
    if (r instanceof ArrayBuffer) {
      this.#transfer ??= [];
      this.#transfer.push(r);
    }
    this.#results[i] = r;
  }

  #fail(i: number, err: unknown): void {
    this.#results[i] = null;
    this.#errors ??= [];
    this.#errors.push(i, toWire(err));
  }
}

/**
 * The walk an op runs as, or null when its work is bounded anyway (a small shard, a small SCAN
 * COUNT, a migration chunk) and it runs at once through executeOp. `op` without REPLICA_COPY.
 */
function walkOf(shard: Shard, op: number, key: string, arg: unknown): Walk | null {
  const store = shard.store;
  switch (op) {
    case Op.KEYS:
      return store.slots > WALK_STEP ? keysWalk(store, key) : null;
    case Op.SCAN: {
      const [cursor, pattern, count] = arg as [number, string | null, number];
      return scanBudget(count) > WALK_STEP ? scanWalk(store, cursor, pattern, count) : null;
    }
    case Op.RANDOMKEY:
      return store.slots > WALK_STEP ? randomKeyWalk(store) : null;
    case Op.MIG_PLAN:
      return shard.migration.planWalk(arg as number[]);
    case Op.MIG_EXPORT_RANGE: {
      const [lo, hi] = arg as [number, number];
      return shard.migration.exportRangeWalk(lo, hi);
    }
    case Op.MIG_DROP_RANGE: {
      const [lo, hi] = arg as [number, number];
      return shard.migration.dropRangeWalk(lo, hi);
    }
    case Op.MIG_REPLACE: {
      const [idx, entries, first] = arg as [number, ArrayBuffer, boolean];
      return first ? replaceWalk(shard, idx, entries) : null;
    }
    default:
      return null;
  }
}

/** A refill's first chunk: what this shard held in the range goes (in steps), then the chunk comes in. */
function* replaceWalk(shard: Shard, idx: number, entries: ArrayBuffer): Walk<number> {
  yield* shard.migration.dropWalk(idx);
  return importEntries(shard.store, entries);
}

/**
 * Sets the store up for an op and returns what undoes it. A copy's changes are its primary's,
 * which reports them to replication. Keys moving between shards change no data a replica holds;
 * what the store evicts or expires by itself meanwhile still does.
 */
function enterOp(shard: Shard, op: number): () => void {
  const store = shard.store;
  const changes = store.changes;
  const copy = (op & REPLICA_COPY) !== 0;
  const plain = op & ~REPLICA_COPY;
  const moving = plain >= Op.MIG_PLAN && plain <= Op.MIG_REPLACE;
  if (copy) {
    store.forceWrites = true;
    store.changes = null;
  }
  if (moving) {
    store.changes = null;
    store.removedMeanwhile = copy || changes === null ? null : new Set();
  }
  return () => {
    if (moving) {
      if (store.removedMeanwhile !== null) for (const k of store.removedMeanwhile) changes!.add(k);
      store.removedMeanwhile = null;
    }
    if (copy) store.forceWrites = false;
    store.changes = changes;
  };
}

/** Applies one op that is not a walk, at once. */
function executeOp(shard: Shard, op: number, key: string, arg: unknown): unknown {
  const plain = op & ~REPLICA_COPY;
  if (plain === op && (op < Op.MIG_PLAN || op > Op.MIG_REPLACE)) return executeOp2(shard, op, key, arg);
  const leave = enterOp(shard, op);
  try {
    return executeOp2(shard, plain, key, arg);
  } finally {
    leave();
  }
}

function executeOp2(shard: Shard, op: number, key: string, arg: unknown): unknown {
  const store = shard.store;
  switch (op) {
    case Op.GET:
      return store.get(key);
    case Op.SET:
      store.setPlain(key, arg as Value);
      return true;
    case Op.SET_EX: {
      const [value, flags, at] = arg as [Value, number, number];
      const r = store.set(key, value, flags, at);
      return flags & SetFlag.GET ? r.old : r.applied;
    }
    case Op.DEL:
      return store.del(arg as string[]);
    case Op.EXISTS:
      return store.exists(arg as string[]);
    case Op.INCRBY:
      return store.incrBy(key, arg as number | bigint);
    case Op.MGET:
      return store.mget(arg as string[]);
    case Op.MSET:
      store.mset(arg as unknown[]);
      return true;
    case Op.EXPIRE: {
      const [at, flags] = arg as [number, number];
      return store.expire(key, at, flags);
    }
    case Op.PERSIST:
      return store.persist(key);
    case Op.PTTL:
      return store.pttl(key);
    case Op.PEXPIRETIME:
      return store.pexpiretime(key);
    case Op.KEYS:
      return store.keys(key);
    case Op.SCAN: {
      const [cursor, pattern, count] = arg as [number, string | null, number];
      return store.scan(cursor, pattern, count);
    }
    case Op.DBSIZE:
      return store.size;
    case Op.FLUSHALL:
      store.flushAll();
      return true;
    case Op.STATS:
      return store.stats();
    case Op.APPEND:
      return store.append(key, arg as Value);
    case Op.STRLEN:
      return store.strlen(key);
    case Op.GETRANGE: {
      const [start, end] = arg as [number, number];
      return store.getRange(key, start, end);
    }
    case Op.SETRANGE: {
      const [offset, value] = arg as [number, Value];
      return store.setRange(key, offset, value);
    }
    case Op.GETDEL:
      return store.getDel(key);
    case Op.GETEX:
      return store.getEx(key, arg as number);
    case Op.INCRBYFLOAT:
      return store.incrByFloat(key, arg as number);
    case Op.ENTRY:
      return store.entry(key);
    case Op.RANDOMKEY:
      return runToEnd(randomKeyWalk(store));
    case Op.MIG_EXPORT: {
      const [idx, offset, limit, maxBytes] = arg as [number, number, number, number];
      return shard.migration.export(idx, offset, limit, maxBytes);
    }
    case Op.MIG_DROP: {
      const [idx, limit] = arg as [number, number];
      return shard.migration.drop(idx, limit);
    }
    // MIG_PLAN, MIG_EXPORT_RANGE, MIG_DROP_RANGE and a refill's first MIG_REPLACE are walks (walkOf).
    case Op.MIG_REPLACE:
      return importEntries(store, (arg as [number, ArrayBuffer, boolean])[1]);
    case Op.MIG_END:
      shard.migration.end();
      return true;
    case Op.RDB_DUMP: {
      const [from, maxEntries, maxBytes] = arg as [number, number, number];
      return dumpPart(store, from, maxEntries, maxBytes);
    }
    default:
      throw new Error(`unknown op ${op}`);
  }
}
