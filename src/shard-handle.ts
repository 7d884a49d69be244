// One shard worker and its port: the op queue, batching, in-flight batches, the watchdog and
// crash handling. It never looks inside keys or values; it only moves ops and settles promises.
//
// Dispatch (PLATFORM.md, measured): one queue per shard, flushed in a microtask; at most
// `maxBatchesInFlight` batches in flight and `maxBatchOps` ops per batch. The cap on batches in
// flight is what makes batches form: without it a microtask flush sends one op per message.
// Replies on one port arrive in posting order, so in-flight batches form a FIFO, not a Map.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { CacheError, fromWire, type WireError } from './errors.js';
import { type FaultKind, type FromShard, type GroupTable, Op, type ShardInit, type ShardMemory, type ToShard } from './protocol.js';
import { CLOSED_STATE, C_STATE, createShardMemory } from './shared/layout.js';
import { FALLBACK, ShardView } from './shared/view.js';
import { MAX_REF_BYTES, refLength, refOffset, restoreValues, valueRef } from './value-bytes.js';

export type ShardState = 'starting' | 'ready' | 'restarting' | 'down' | 'closed';

type Resolve = (value: unknown) => void;
type Reject = (reason: unknown) => void;

/**
 * Where an op's outcome goes without a promise: the RESP server's reply slots, one object per
 * request instead of a promise, its two functions and the `then` callbacks per request.
 */
export interface Sink {
  done(value: unknown): void;
  fail(error: unknown): void;
  /** A GET_BYTES value, as `bytes[start..end)` (no view made for it); else done() gets a view. */
  doneBytes?(bytes: Buffer, start: number, end: number): void;
}

/** An op's receivers: a promise's resolve and reject, or a Sink and null. */
export type Receiver = Resolve | Sink;
export type Rejecter = Reject | null;

/** Settles an op's receivers with a value. */
export function settle(res: Receiver, value: unknown): void {
  if (typeof res === 'function') res(value);
  else res.done(value);
}

/** Settles an op's receivers with an error. */
export function fail(res: Receiver, rej: Rejecter, error: unknown): void {
  if (rej !== null) rej(error);
  else (res as Sink).fail(error);
}

/** Settles an op's receivers when `p` does. */
export function forward(p: Promise<unknown>, res: Receiver, rej: Rejecter): void {
  if (rej !== null && typeof res === 'function') p.then(res, rej);
  else
    p.then(
      (v) => settle(res, v),
      (e: unknown) => fail(res, rej, e),
    );
}

/**
 * Shared by a cluster's shards: while corked, posts wait for uncork() instead of the next
 * microtask, so a network front end sends everything one event-loop turn read (many clients'
 * pipelines) in a few large batches rather than one small batch per client.
 */
export class FlushGate {
  /** Told of every answered batch: its round trip in seconds and its op count (metrics). */
  readonly observers = new Set<(seconds: number, ops: number) => void>();
  #corked = false;
  #waiting: (() => void)[] = [];
  readonly #uncork = (): void => {
    this.#corked = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const flush of waiting) flush();
  };

  /** Holds posts until the end of this event-loop turn (the check phase). */
  corkTurn(): void {
    if (this.#corked) return;
    this.#corked = true;
    setImmediate(this.#uncork);
  }

  /** Runs `flush` in a microtask, or `corked` at uncork. */
  schedule(flush: () => void, corked: () => void): void {
    if (this.#corked) this.#waiting.push(corked);
    else queueMicrotask(flush);
  }
}

interface Batch {
  id: number;
  epoch: number;
  ops: unknown[];
  resolves: Receiver[];
  rejects: Rejecter[];
  /** The bytes of its SET_BYTES values (transferred with the batch), from arena offset `base`. */
  bytes?: ArrayBuffer;
  base?: number;
  /** performance.now() when posted, when someone observes dispatch. */
  sentAt?: number;
}

/** Most bytes a queue's value arena grows to; past it SET values travel on their own. */
const MAX_ARENA_BYTES = 8 * 1024 * 1024;

export interface ShardHandleOptions {
  maxBatchOps: number;
  maxBatchesInFlight: number;
  watchdogIntervalMs: number;
  /** 0 disables the watchdog. */
  watchdogTimeoutMs: number;
  maxBootFailures: number;
  shardHeapMb: number;
}

/** What the handle tells its owner. */
/** What a worker held when it died, as it last reported: its keys, and its keys per replica set ('1,3'). */
export interface Held {
  keys: number;
  bySet: Map<string, number>;
}

export interface ShardHandleEvents {
  /**
   * The worker died (`reason`) and `lost` ops were rejected; `restarting` says whether a new
   * worker is coming; `held` is what the dead worker held (its replacement starts from nothing).
   */
  onCrash(handle: ShardHandle, reason: string, lost: number, restarting: boolean, held: Held): void;
  /** A (re)started worker is ready. */
  onReady(handle: ShardHandle, restart: boolean): void;
  /** A batch was routed under an epoch the shard no longer has: its ops must be routed again. */
  onWrongEpoch(handle: ShardHandle, ops: unknown[], resolves: Receiver[], rejects: Rejecter[]): void;
  /** Replication effects (RESP commands) the shard made, in its order, after `flushes` FLUSHALLs. */
  onEffects?(handle: ShardHandle, effects: ArrayBuffer, flushes: number): void;
}

const WORKER_URL = new URL('../workers/shard.js', import.meta.url);

/** Single-key ops readInPlace() answers. */
export const IN_PLACE = new Set<number>([Op.GET, Op.GET_BYTES, Op.PEXPIRETIME, Op.PTTL, Op.STRLEN, Op.GETRANGE]);

/**
 * Ops that change nothing a read in place could see. Every other op is a write: while one is
 * queued or in flight, reads of its key (of every key, for writes that name none) go to the shard
 * behind it, so a caller always reads its own writes (DESIGN §9).
 */
const READS = new Set<number>([
  Op.GET,
  Op.GET_BYTES,
  Op.EXISTS,
  Op.MGET,
  Op.PTTL,
  Op.PEXPIRETIME,
  Op.STRLEN,
  Op.GETRANGE,
  Op.KEYS,
  Op.SCAN,
  Op.DBSIZE,
  Op.STATS,
  Op.ENTRY,
  Op.RANDOMKEY,
  Op.RDB_DUMP,
]);

/** Ops a batch needs before it may take one of the second half of the in-flight slots. */
const FULL_BATCH = 32;

/** Where `capture` leaves the functions of the promise being built; read right after `new Promise`. */
const captured: { resolve: Resolve | null; reject: Reject | null } = { resolve: null, reject: null };
function capture(resolve: Resolve, reject: Reject): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** A shard: one worker thread, its queue and its in-flight batches. */
export class ShardHandle {
  readonly id: number;
  readonly name: string;
  #init: ShardInit;
  #opts: ShardHandleOptions;
  #events: ShardHandleEvents;
  #gate: FlushGate;
  #worker: Worker | null = null;
  /** Our end of the shard's dedicated channel (port.postMessage skips Worker's JS wrapper). */
  #port: MessagePort | null = null;
  #state: ShardState = 'starting';
  /** Queued ops, flat (op, key, arg), from `#qHead` on; resolvers aligned by op index. */
  #queue: unknown[] = [];
  #qResolves: Receiver[] = [];
  #qRejects: Rejecter[] = [];
  #qHead = 0;
  /**
   * The values of queued SET_BYTES ops, back to back in queue order (`#arena[0..#arenaLen)`);
   * each batch takes a copy of its range. Emptied whenever the queue is.
   */
  #arena = Buffer.allocUnsafeSlow(0);
  #arenaLen = 0;
  /** SET_BYTES ops queued: batches without any skip looking for them. */
  #queuedRefs = 0;
  #inflight: Batch[] = [];
  #nextBatchId = 1;
  #flushScheduled = false;
  #pending = 0;
  /** ArrayBuffers in queued ops' args, to transfer when their batch is posted. */
  #transfers = 0;
  /** A fault was injected and has not played out yet: the worker stays ref'd until it exits. */
  #faulting = false;
  #idleWaiters: (() => void)[] = [];
  /** The reader of the running worker's shared memory, while it is ready; null otherwise. */
  #view: ShardView | null = null;
  #memory: ShardMemory | null = null;
  /** In-place reads of earlier workers' memory: [reads, hits], for stats. */
  #viewReads = 0;
  #viewHits = 0;
  /** Writes queued or in flight that name no single key (multi-key, keyless, migration). */
  #keylessWrites = 0;
  /** Keys with a write queued or in flight, and how many. */
  #writeKeys = new Map<string, number>();
  #bootFailures = 0;
  #everReady = false;
  #crashes = 0;
  #batches = 0;
  #batchedOps = 0;
  /** Keys the shard held at its last reply or watchdog answer: what a crash loses with one copy. */
  #keys = 0;
  /** The replica sets of each GroupTable sent (by version, until a report follows a newer one). */
  #groupSets = new Map<number, string[]>();
  /** Keys per replica set at the last report (replicas ≥ 2), or null before the first. */
  #counts: { sets: string[]; counts: number[] } | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  #deadline: NodeJS.Timeout | null = null;
  #pingId = 0;
  #killReason: string | null = null;
  #bootWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  readonly #flush = (): void => this.#doFlush(false);
  /** The flush a corked turn ends with: everything queued goes at once (see #doFlush). */
  readonly #flushCorked = (): void => this.#doFlush(true);

  constructor(init: ShardInit, opts: ShardHandleOptions, events: ShardHandleEvents, gate = new FlushGate()) {
    this.id = init.shardId;
    this.#gate = gate;
    this.name = init.name;
    this.#init = init;
    this.#opts = opts;
    this.#events = events;
    this.#spawn();
  }

  get state(): ShardState {
    return this.#state;
  }

  /** Ops queued or in flight. */
  get pending(): number {
    return this.#pending;
  }

  get crashes(): number {
    return this.#crashes;
  }

  /** Batches posted, and the ops in them, since the handle was made (dispatch metrics). */
  get batches(): number {
    return this.#batches;
  }

  get batchedOps(): number {
    return this.#batchedOps;
  }

  /** The shard's memory budget in estimated bytes (its share of maxmemory; 0 = unlimited). */
  get maxBytes(): number {
    return this.#init.maxBytes;
  }

  /** A new memory budget, for this worker and any replacement. */
  setMaxBytes(maxBytes: number): void {
    if (maxBytes === this.#init.maxBytes) return;
    this.#init.maxBytes = maxBytes;
    this.#port?.postMessage({ t: 'budget', maxBytes } satisfies ToShard);
  }

  /** Makes the shard count its keys by `table`, whose sets (ids joined by commas, ascending) are `sets`. */
  setGroups(table: GroupTable, sets: string[]): void {
    this.#init.groups = table;
    this.#groupSets.set(table.version, sets);
    this.#port?.postMessage({ t: 'groups', table } satisfies ToShard);
  }

  /** Keys the shard held in a replica set (ids joined by commas, ascending) at its last report. */
  heldIn(set: string): number {
    const c = this.#counts;
    if (c === null) return 0;
    const i = c.sets.indexOf(set);
    return i < 0 ? 0 : c.counts[i]!;
  }

  #onCounts(counts: number[]): void {
    const version = counts[0]!;
    const sets = this.#groupSets.get(version);
    if (sets === undefined) return;
    for (const v of this.#groupSets.keys()) if (v < version) this.#groupSets.delete(v);
    this.#counts = { sets, counts: counts.slice(1) };
  }

  /** What the worker held at its last report, as the crash that ended it reports it. */
  #held(): Held {
    const bySet = new Map<string, number>();
    const c = this.#counts;
    if (c !== null) for (let i = 0; i < c.sets.length; i++) if (c.counts[i]! > 0) bySet.set(c.sets[i]!, c.counts[i]!);
    return { keys: this.#keys, bySet };
  }

  /** Resolves when the worker is ready; rejects if it is left down. */
  ready(): Promise<void> {
    if (this.#state === 'ready') return Promise.resolve();
    const gone = this.#unavailable();
    if (gone !== null) return Promise.reject(gone);
    return new Promise((resolve, reject) => this.#bootWaiters.push({ resolve, reject }));
  }

  /** Makes the shard report its changes as replication effects, now and after any restart. */
  replicate(): void {
    this.#init.replicate = true;
    this.#port?.postMessage({ t: 'replicate' } satisfies ToShard);
  }

  /** The epoch the next batches are routed under; the marker goes on the port first (DESIGN §1). */
  setEpoch(epoch: number): void {
    this.#init.epoch = epoch;
    this.#port?.postMessage({ t: 'epoch', epoch } satisfies ToShard);
  }

  /**
   * Queues one op; the promise settles with the shard's result or a CacheError. `arg` may hold
   * ArrayBuffers (migration entries): count them in `transfers` and they move instead of copying.
   */
  send(op: number, key: string, arg: unknown, transfers = 0): Promise<unknown> {
    const gone = this.#unavailable();
    if (gone !== null) return Promise.reject(gone);
    // A module-level executor hands out resolve/reject without allocating a closure per op.
    const promise = new Promise(capture);
    this.#transfers += transfers;
    this.#enqueue(op, key, arg, captured.resolve!, captured.reject!);
    return promise;
  }

  /** Queues one op whose outcome goes to `sink` (which may be called before this returns). */
  sendTo(op: number, key: string, arg: unknown, sink: Sink): void {
    const gone = this.#unavailable();
    if (gone !== null) sink.fail(gone);
    else this.#enqueue(op, key, arg, sink, null);
  }

  /** The error for an op sent to a shard that is down or closed, or null while it can take ops. */
  #unavailable(): CacheError | null {
    return this.#state === 'down' || this.#state === 'closed'
      ? new CacheError('SHARD_UNAVAILABLE', `shard ${this.name} is ${this.#state}`)
      : null;
  }

  /**
   * A single-key read op (IN_PLACE) answered in place with the result the shard would give, or
   * FALLBACK, unless the
   * shard is not ready, a write of the key (or one naming no key) is still queued or in flight from
   * here, or the read met a write under way in the shard.
   */
  readInPlace(op: number, key: string, arg: unknown): unknown {
    const view = this.#view;
    if (view === null || this.#keylessWrites > 0 || (this.#writeKeys.size > 0 && this.#writeKeys.has(key))) return FALLBACK;
    const now = Date.now();
    switch (op) {
      case Op.GET:
      case Op.GET_BYTES:
        return view.get(key, now);
      case Op.PEXPIRETIME:
        return view.expiry(key, now);
      case Op.PTTL: {
        const at = view.expiry(key, now);
        return at === FALLBACK || at < 0 ? at : Math.max(0, at - now);
      }
      case Op.STRLEN:
        return view.strlen(key, now);
      case Op.GETRANGE: {
        const [start, end] = arg as [number, number];
        return view.getRange(key, start, end, now);
      }
      default:
        return FALLBACK;
    }
  }

  /** The running worker's shared memory while it is ready (what other threads read in place), else null. */
  get sharedMemory(): ShardMemory | null {
    return this.#view?.memory ?? null;
  }

  /** Reads answered in place and the hits among them, over every worker this handle ran. */
  get inPlace(): { reads: number; hits: number } {
    const v = this.#view;
    return { reads: this.#viewReads + (v?.reads ?? 0), hits: this.#viewHits + (v?.hits ?? 0) };
  }

  /** Adds one op and its receivers to the queue. */
  #enqueue(op: unknown, key: unknown, arg: unknown, res: Receiver, rej: Rejecter): void {
    if (!READS.has((op as number) & 0xff)) {
      if (key === '') this.#keylessWrites++;
      else this.#writeKeys.set(key as string, (this.#writeKeys.get(key as string) ?? 0) + 1);
    }
    this.#queue.push(op, key, arg);
    this.#qResolves.push(res);
    this.#qRejects.push(rej);
    this.#opAdded();
  }

  /**
   * Queues a plain SET whose value is `source[start..end)`: the bytes are copied into the queue's
   * arena and the shard makes the value (no string here, no value cloned on its own). Returns
   * false, queuing nothing, when the value is too big for the arena: send it as a value then.
   */
  sendSet(key: string, source: Buffer, start: number, end: number, sink: Sink): boolean {
    const len = end - start;
    if (len > MAX_REF_BYTES) return false;
    const gone = this.#unavailable();
    if (gone !== null) {
      sink.fail(gone);
      return true;
    }
    if (this.#arenaLen + len > this.#arena.length && !this.#growArena(len)) return false;
    source.copy(this.#arena, this.#arenaLen, start, end);
    const ref = valueRef(this.#arenaLen, len);
    this.#arenaLen += len;
    this.#queuedRefs++;
    this.#enqueue(Op.SET_BYTES, key, ref, sink, null);
    return true;
  }

  #growArena(len: number): boolean {
    const need = this.#arenaLen + len;
    if (need > MAX_ARENA_BYTES) return false;
    const next = Buffer.allocUnsafeSlow(Math.min(MAX_ARENA_BYTES, Math.max(need, 64 * 1024, this.#arena.length * 2)));
    this.#arena.copy(next, 0, 0, this.#arenaLen);
    this.#arena = next;
    return true;
  }

  /** Queues ops that already have receivers (re-routed after an epoch change). */
  requeue(ops: unknown[], resolves: Receiver[], rejects: Rejecter[]): void {
    for (let i = 0; i < resolves.length; i++)
      this.#enqueue(ops[i * 3], ops[i * 3 + 1], ops[i * 3 + 2], resolves[i]!, rejects[i] as Rejecter);
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Test and chaos hook: makes the worker exit, throw or hang; 'boot-loop' also makes every restart die at boot. */
  injectFault(kind: FaultKind): void {
    if (kind === 'boot-loop') this.#init.bootFault = true;
    // Hold the process open until the fault has played out (the replacement unrefs when ready).
    this.#faulting = true;
    this.#worker?.ref();
    this.#port?.postMessage({ t: 'fault', kind } satisfies ToShard);
  }

  /** Terminates the worker; what is still pending rejects with `error`. */
  async close(error: CacheError): Promise<void> {
    this.#state = 'closed';
    this.#dropView();
    this.#stopWatchdog();
    this.#rejectAll(error);
    for (const w of this.#bootWaiters.splice(0)) w.reject(error);
    const worker = this.#worker;
    this.#worker = null;
    this.#port?.close();
    this.#port = null;
    if (worker !== null) await worker.terminate();
  }

  // ---- dispatch -------------------------------------------------------------------------------

  #opAdded(): void {
    if (this.#pending++ === 0) this.#worker?.ref();
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#gate.schedule(this.#flush, this.#flushCorked);
    }
  }

  /**
   * Posts queued ops as batches while in-flight slots are free. `whole`: the end of a corked turn,
   * when nothing more will be queued before these posts, so each batch takes all it may rather
   * than a share (splitting would only double the posts).
   */
  #doFlush(whole: boolean): void {
    this.#flushScheduled = false;
    const port = this.#port;
    if (port === null || this.#state !== 'ready') return;
    const max = this.#opts.maxBatchOps;
    const slots = this.#opts.maxBatchesInFlight;
    // Each post wakes the shard's thread: measured as the largest main-thread cost (≈10 µs), so
    // messages must be few. Half the slots take any batch; the other half only batches of at
    // least FULL_BATCH ops. Light load: few, small messages. Heavy load: batches grow to `max`.
    const spread = Math.max(1, slots >> 1);
    const full = Math.min(max, FULL_BATCH);
    while (this.#inflight.length < slots) {
      const queued = this.#qResolves.length - this.#qHead;
      if (queued === 0 || (this.#inflight.length >= spread && queued < full)) break;
      // Spread what is queued over the free open slots so the shard can work while we post.
      const n = Math.min(max, whole ? queued : Math.ceil(queued / Math.max(1, spread - this.#inflight.length)));
      const batch = this.#take(n, queued);
      this.#inflight.push(batch);
      this.#batches++;
      this.#batchedOps += batch.resolves.length;
      if (this.#gate.observers.size > 0) batch.sentAt = performance.now();
      const { bytes } = batch;
      if (bytes === undefined) {
        const msg = { t: 'batch', id: batch.id, epoch: batch.epoch, ops: batch.ops } satisfies ToShard;
        if (this.#transfers === 0) port.postMessage(msg);
        else port.postMessage(msg, this.#takeTransfers(batch.ops));
      } else {
        batch.bytes = undefined;
        const msg = { t: 'batch', id: batch.id, epoch: batch.epoch, ops: batch.ops, bytes, base: batch.base! } satisfies ToShard;
        port.postMessage(msg, this.#transfers === 0 ? [bytes] : [bytes, ...this.#takeTransfers(batch.ops)]);
      }
    }
  }

  /** The ArrayBuffers among a batch's args (top level, or one level inside an array arg). */
  #takeTransfers(ops: unknown[]): ArrayBuffer[] {
    const out: ArrayBuffer[] = [];
    for (let i = 2; i < ops.length; i += 3) {
      const arg = ops[i];
      if (arg instanceof ArrayBuffer) out.push(arg);
      else if (Array.isArray(arg)) for (const a of arg) if (a instanceof ArrayBuffer) out.push(a);
    }
    this.#transfers -= out.length;
    return out;
  }

  /** Takes the next `n` of `queued` ops off the queue as a batch. */
  #take(n: number, queued: number): Batch {
    const id = this.#nextBatchId++;
    const epoch = this.#init.epoch;
    let batch: Batch;
    if (n === queued && this.#qHead === 0) {
      // The whole queue: hand its arrays over instead of copying them.
      batch = { id, epoch, ops: this.#queue, resolves: this.#qResolves, rejects: this.#qRejects };
      this.#takeBytes(batch);
      this.#queue = [];
      this.#qResolves = [];
      this.#qRejects = [];
      this.#emptyArena();
      return batch;
    }
    const start = this.#qHead;
    batch = {
      id,
      epoch,
      ops: this.#queue.slice(start * 3, (start + n) * 3),
      resolves: this.#qResolves.slice(start, start + n),
      rejects: this.#qRejects.slice(start, start + n),
    };
    this.#takeBytes(batch);
    this.#qHead += n;
    if (this.#qHead === this.#qResolves.length) {
      this.#queue = [];
      this.#qResolves = [];
      this.#qRejects = [];
      this.#qHead = 0;
      this.#emptyArena();
    } else if (this.#qHead >= 1024 && this.#qHead * 2 >= this.#qResolves.length) {
      // Under sustained load the queue may never drain: drop the taken head now and then.
      this.#queue.splice(0, this.#qHead * 3);
      this.#qResolves.splice(0, this.#qHead);
      this.#qRejects.splice(0, this.#qHead);
      this.#qHead = 0;
      this.#compactArena();
    }
    return batch;
  }

  /** Gives a batch a copy of its SET_BYTES values' range of the arena. */
  #takeBytes(batch: Batch): void {
    if (this.#queuedRefs === 0) return;
    const ops = batch.ops;
    let lo = -1;
    let hi = 0;
    let count = 0;
    for (let i = 0; i < ops.length; i += 3) {
      if (ops[i] !== Op.SET_BYTES) continue;
      const ref = ops[i + 2] as number;
      if (lo < 0) lo = refOffset(ref);
      hi = refOffset(ref) + refLength(ref);
      count++;
    }
    if (count === 0) return;
    this.#queuedRefs -= count;
    batch.base = lo;
    const at = this.#arena.byteOffset;
    batch.bytes = this.#arena.buffer.slice(at + lo, at + hi);
  }

  /** The queue holds no SET_BYTES values: the arena starts over, and lets go of a burst's growth. */
  #emptyArena(): void {
    this.#arenaLen = 0;
    if (this.#arena.length > 1024 * 1024) this.#arena = Buffer.allocUnsafeSlow(0);
  }

  /** Moves the arena's bytes still queued to its start (the queue was compacted, not emptied). */
  #compactArena(): void {
    const ops = this.#queue;
    let lo = -1;
    for (let i = 0; i < ops.length && lo < 0; i += 3) if (ops[i] === Op.SET_BYTES) lo = refOffset(ops[i + 2] as number);
    if (lo < 0) {
      this.#emptyArena();
      return;
    }
    this.#arena.copy(this.#arena, 0, lo, this.#arenaLen);
    this.#arenaLen -= lo;
    const shift = valueRef(lo, 0);
    for (let i = 0; i < ops.length; i += 3) if (ops[i] === Op.SET_BYTES) ops[i + 2] = (ops[i + 2] as number) - shift;
  }

  #onMessage(msg: FromShard): void {
    switch (msg.t) {
      case 'reply':
        this.#keys = msg.keys;
        if (msg.counts !== undefined) this.#onCounts(msg.counts);
        // Into the replication stream before the callers hear: a WAIT after the reply counts it.
        if (msg.effects !== undefined) this.#events.onEffects?.(this, msg.effects, msg.flushes ?? 0);
        this.#onReply(msg.id, msg.results, msg.errors, msg.bytes);
        return;
      case 'effects':
        this.#events.onEffects?.(this, msg.effects, 0);
        return;
      case 'pong':
        this.#keys = msg.keys;
        if (msg.counts !== undefined) this.#onCounts(msg.counts);
        if (msg.id === this.#pingId) this.#armPing();
        return;
      case 'ready':
        this.#onBooted();
        return;
      case 'segment':
        // Before any reply that refers to it: the port is FIFO and the shard posts this first.
        this.#view?.addSegment(msg.segment);
        return;
      case 'wrong-epoch': {
        const batch = this.#takeBatch(msg.id);
        if (batch === null) return;
        this.#settled(batch.resolves.length);
        if (msg.bytes !== undefined) restoreValues(batch.ops, msg.bytes, batch.base!);
        this.#events.onWrongEpoch(this, batch.ops, batch.resolves, batch.rejects);
        this.#doFlush(false);
      }
    }
  }

  /**
   * The in-flight batch a reply answers. Replies on one port come in posting order (a platform
   * guarantee), so it is the oldest; a reply to nothing (its batches were already rejected by a
   * crash or close) is ignored. A mismatch would be a bug: that batch fails with INTERNAL rather
   * than an exception escaping into the host's event loop.
   */
  #takeBatch(id: number): Batch | null {
    const batch = this.#inflight[0];
    if (batch === undefined) return null;
    this.#inflight.shift();
    this.#released(batch.ops, 0);
    if (batch.id !== id) {
      const err = new CacheError('INTERNAL', `shard ${this.name}: reply ${id} out of order (expected ${batch.id})`);
      for (let i = 0; i < batch.resolves.length; i++) fail(batch.resolves[i]!, batch.rejects[i]!, err);
      this.#settled(batch.rejects.length);
      return null;
    }
    return batch;
  }

  #onReply(id: number, results: unknown[], errors: (number | WireError)[] | undefined, bytes: ArrayBuffer | undefined): void {
    const batch = this.#takeBatch(id);
    if (batch === null) return;
    if (batch.sentAt !== undefined) {
      const seconds = (performance.now() - batch.sentAt) / 1000;
      for (const observe of this.#gate.observers) observe(seconds, batch.resolves.length);
    }
    const { resolves, rejects } = batch;
    // GET_BYTES results point into the reply's bytes: they settle as views of them.
    const values = bytes === undefined ? null : Buffer.from(bytes);
    let e = 0;
    const nextError = errors?.[0] as number | undefined;
    let errAt = nextError ?? -1;
    for (let i = 0; i < resolves.length; i++) {
      if (i === errAt) {
        fail(resolves[i]!, rejects[i]!, fromWire(errors![e + 1] as WireError));
        e += 2;
        errAt = e < errors!.length ? (errors![e] as number) : -1;
      } else {
        const r = results[i];
        if (r instanceof Uint8Array) settle(resolves[i]!, Buffer.from(r.buffer, r.byteOffset, r.byteLength));
        else if (values !== null && typeof r === 'number' && batch.ops[i * 3] === Op.GET_BYTES) {
          const res = resolves[i]!;
          const at = refOffset(r);
          const end = at + refLength(r);
          if (typeof res !== 'function' && res.doneBytes !== undefined) res.doneBytes(values, at, end);
          else settle(res, values.subarray(at, end));
        } else settle(resolves[i]!, r);
      }
    }
    this.#settled(resolves.length);
    if (!this.#flushScheduled && this.#qResolves.length > this.#qHead) {
      this.#flushScheduled = true;
      this.#gate.schedule(this.#flush, this.#flushCorked);
    }
  }

  #settled(n: number): void {
    this.#pending -= n;
    if (this.#pending === 0) {
      if (!this.#faulting) this.#worker?.unref();
      for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  /** Ops `ops[from * 3..]` left this handle (answered, re-routed or failed): their writes no longer hold reads back. */
  #released(ops: unknown[], from: number): void {
    for (let i = from * 3; i < ops.length; i += 3) {
      if (READS.has((ops[i] as number) & 0xff)) continue;
      const key = ops[i + 1] as string;
      if (key === '') this.#keylessWrites--;
      else {
        const n = this.#writeKeys.get(key)!;
        if (n === 1) this.#writeKeys.delete(key);
        else this.#writeKeys.set(key, n - 1);
      }
    }
  }

  #rejectAll(error: CacheError): number {
    let lost = 0;
    this.#released(this.#queue, this.#qHead);
    for (const b of this.#inflight) this.#released(b.ops, 0);
    for (const b of this.#inflight.splice(0)) {
      for (let i = 0; i < b.resolves.length; i++) fail(b.resolves[i]!, b.rejects[i]!, error);
      lost += b.rejects.length;
    }
    for (let i = this.#qHead; i < this.#qRejects.length; i++) fail(this.#qResolves[i]!, this.#qRejects[i]!, error);
    lost += this.#qRejects.length - this.#qHead;
    this.#queue = [];
    this.#qResolves = [];
    this.#qRejects = [];
    this.#qHead = 0;
    this.#transfers = 0;
    this.#emptyArena();
    this.#queuedRefs = 0;
    if (lost > 0) this.#settled(lost);
    return lost;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  #spawn(): void {
    const resourceLimits = this.#opts.shardHeapMb > 0 ? { maxOldGenerationSizeMb: this.#opts.shardHeapMb } : {};
    // execArgv: [] keeps the parent's loaders and flags (e.g. a test runner's) out of the shard.
    const { port1, port2 } = new MessageChannel();
    // Fresh memory per worker: a replacement starts from nothing, and nothing reads a dead one's.
    const workerData: ShardInit = { ...this.#init, port: port2, memory: createShardMemory() };
    this.#memory = workerData.memory!;
    const worker = new Worker(WORKER_URL, { workerData, transferList: [port2], execArgv: [], resourceLimits, name: this.name });
    this.#worker = worker;
    this.#port = port1;
    // A message still queued on a port we already dropped (crash, close) belongs to nobody.
    port1.on('message', (msg: FromShard) => {
      if (this.#port === port1) this.#onMessage(msg);
    });
    // Liveness follows the worker's ref (held while ops are pending), never the port's.
    port1.unref();
    worker.on('error', (err: Error) => {
      this.#killReason ??= `error: ${err.message}`;
    });
    worker.on('exit', (code) => this.#onExit(worker, code));
    // The worker stays ref'd while it boots (someone awaits it); afterwards only while ops are pending.
  }

  #onBooted(): void {
    const restart = this.#everReady;
    this.#view = new ShardView(this.#memory!);
    this.#everReady = true;
    this.#bootFailures = 0;
    this.#state = 'ready';
    for (const w of this.#bootWaiters.splice(0)) w.resolve();
    if (this.#pending === 0) this.#worker?.unref();
    this.#armPing();
    this.#events.onReady(this, restart);
    this.#doFlush(false);
  }

  /** Stops reads in place of the current worker's memory, for this thread and every thread that shares it. */
  #dropView(): void {
    if (this.#memory !== null) Atomics.store(new Int32Array(this.#memory.control), C_STATE, CLOSED_STATE);
    const v = this.#view;
    if (v !== null) {
      this.#viewReads += v.reads;
      this.#viewHits += v.hits;
    }
    this.#view = null;
  }

  #onExit(worker: Worker, code: number): void {
    if (worker !== this.#worker || this.#state === 'closed') return;
    this.#dropView();
    this.#faulting = false;
    this.#worker = null;
    this.#port?.close();
    this.#port = null;
    this.#stopWatchdog();
    const booting = this.#state === 'starting' || this.#state === 'restarting';
    const reason = this.#killReason ?? `exited with code ${code}`;
    this.#killReason = null;
    this.#crashes++;
    if (booting) this.#bootFailures++;
    const restarting = this.#bootFailures < this.#opts.maxBootFailures;
    const lost = this.#rejectAll(new CacheError('SHARD_CRASHED', `shard ${this.name} crashed (${reason}) before answering`));
    // What the dead worker held goes with the crash report; its replacement starts empty.
    const held = this.#held();
    this.#keys = 0;
    this.#counts = null;
    if (restarting) {
      this.#state = this.#everReady ? 'restarting' : 'starting';
      this.#spawn();
    } else {
      this.#state = 'down';
      const err = new CacheError('SHARD_UNAVAILABLE', `shard ${this.name} failed to start ${this.#bootFailures} times: ${reason}`);
      for (const w of this.#bootWaiters.splice(0)) w.reject(err);
    }
    this.#events.onCrash(this, reason, lost, restarting, held);
  }

  // ---- watchdog -------------------------------------------------------------------------------

  /** Schedules the next ping; the deadline starts when the ping is posted. */
  #armPing(): void {
    this.#stopWatchdog();
    if (this.#opts.watchdogTimeoutMs === 0 || this.#state !== 'ready') return;
    this.#pingTimer = setTimeout(() => {
      this.#pingTimer = null;
      const worker = this.#worker;
      const port = this.#port;
      if (worker === null || port === null) return;
      const id = ++this.#pingId;
      port.postMessage({ t: 'ping', id } satisfies ToShard);
      this.#deadline = setTimeout(() => {
        this.#deadline = null;
        // After this thread was busy, timers run before the port's messages: read what already
        // came (in order) before deciding; a pong among it re-arms the watchdog.
        for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
          this.#onMessage(m.message as FromShard);
          if (this.#pingTimer !== null || this.#port !== port) return;
        }
        this.#killReason = `no answer to the watchdog for ${this.#opts.watchdogTimeoutMs} ms`;
        void worker.terminate();
      }, this.#opts.watchdogTimeoutMs).unref();
    }, this.#opts.watchdogIntervalMs).unref();
  }

  #stopWatchdog(): void {
    if (this.#pingTimer !== null) clearTimeout(this.#pingTimer);
    if (this.#deadline !== null) clearTimeout(this.#deadline);
    this.#pingTimer = this.#deadline = null;
  }
}
