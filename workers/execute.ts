// Applies one batch of flat ops (see Op in src/protocol.ts) to a shard's store. Plain module so
// that tests cover it directly; the worker entry only moves messages.
import { isAscii } from 'node:buffer';
import { CacheError, toWire, type WireError } from '../src/errors.js';
import { Op, REPLICA_COPY, SetFlag } from '../src/protocol.js';
import { packValues, refLength, refOffset, valueFromBytes } from '../src/value-bytes.js';
import { dumpPart } from './effects.js';
import { MigrationSource, importEntries } from './migration.js';
import type { ShardStore, Value } from './store.js';

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

/** `bytes` and `base`: the values of the batch's SET_BYTES ops (src/value-bytes.ts). */
export function executeBatch(shard: Shard, ops: unknown[], bytes?: ArrayBuffer, base = 0): BatchOutcome {
  const store = shard.store;
  const n = ops.length / 3;
  const results = new Array<unknown>(n);
  let errors: (number | WireError)[] | undefined;
  let transfer: ArrayBuffer[] | undefined;
  let gets = 0;
  const values = bytes === undefined ? undefined : Buffer.from(bytes);
  // One check for the whole batch: when every value is ASCII (the common case), none needs its own.
  const ascii = values !== undefined && isAscii(values);
  store.ops += n;
  for (let i = 0; i < n; i++) {
    try {
      let op = ops[i * 3] as number;
      let arg = ops[i * 3 + 2];
      if (op === Op.SET_BYTES) {
        if (values === undefined) throw new CacheError('INTERNAL', 'SET_BYTES without the batch bytes');
        const at = refOffset(arg as number) - base;
        op = Op.SET;
        const end = at + refLength(arg as number);
        arg = ascii ? values.latin1Slice(at, end) : valueFromBytes(values, at, end);
      } else if (op === Op.GET_BYTES) {
        op = Op.GET;
        gets++;
      }
      const r = executeOp(shard, op, ops[i * 3 + 1] as string, arg);
      if (r instanceof ArrayBuffer) {
        transfer ??= [];
        transfer.push(r);
      }
      results[i] = r;
    } catch (err) {
      results[i] = null;
      errors ??= [];
      errors.push(i, toWire(err));
    }
  }
  return { results, errors, transfer, bytes: gets === 0 ? undefined : packValues(ops, results) };
}

export function executeOp(shard: Shard, op: number, key: string, arg: unknown): unknown {
  if (op & REPLICA_COPY) {
    // A copy's changes are its primary's, which reports them to replication.
    const changes = shard.store.changes;
    shard.store.forceWrites = true;
    shard.store.changes = null;
    try {
      return executeOp(shard, op & ~REPLICA_COPY, key, arg);
    } finally {
      shard.store.forceWrites = false;
      shard.store.changes = changes;
    }
  }
  if (op >= Op.MIG_PLAN && op <= Op.MIG_REPLACE) {
    // Keys moving between shards change no data a replica holds; what the store evicts or
    // expires by itself meanwhile still does.
    const store = shard.store;
    const changes = store.changes;
    store.changes = null;
    store.removedMeanwhile = changes === null ? null : new Set();
    try {
      return executeOp2(shard, op, key, arg);
    } finally {
      if (changes !== null) for (const k of store.removedMeanwhile!) changes.add(k);
      store.changes = changes;
      store.removedMeanwhile = null;
    }
  }
  return executeOp2(shard, op, key, arg);
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
      return store.randomKey();
    case Op.MIG_PLAN:
      return shard.migration.plan(arg as number[]);
    case Op.MIG_EXPORT: {
      const [idx, offset, limit, maxBytes] = arg as [number, number, number, number];
      return shard.migration.export(idx, offset, limit, maxBytes);
    }
    case Op.MIG_DROP: {
      const [idx, limit] = arg as [number, number];
      return shard.migration.drop(idx, limit);
    }
    case Op.MIG_EXPORT_RANGE: {
      const [lo, hi] = arg as [number, number];
      return shard.migration.exportRange(lo, hi);
    }
    case Op.MIG_DROP_RANGE: {
      const [lo, hi] = arg as [number, number];
      return shard.migration.dropRange(lo, hi);
    }
    case Op.MIG_REPLACE: {
      // The first chunk of a refilled range first drops what this shard held there.
      const [idx, entries, first] = arg as [number, ArrayBuffer, boolean];
      if (first) shard.migration.drop(idx);
      return importEntries(store, entries);
    }
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
