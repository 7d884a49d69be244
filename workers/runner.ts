// A shard's message loop (tests drive it without a worker): batches, epochs and 'replicate' apply
// in arrival order, a walking batch in time slices with pings answered between them. It must
// never let a later message's work run before (or inside) an earlier batch.
import type { FromShard, GroupTable, ToShard } from '../src/protocol.js';
import { takeEffects } from './effects.js';
import { BatchRun, type Shard } from './execute.js';
import { GroupCounts } from './group-counts.js';

/** Most time (ms) one stretch of work runs before the worker's event loop gets a turn. */
export const SLICE_MS = 20;

export interface RunnerOptions {
  /** Posts a message to the coordinator. */
  send(msg: FromShard, transfer?: ArrayBuffer[]): void;
  /** The epoch the shard starts in. */
  epoch: number;
  /** See SLICE_MS; tests pass 0 to yield after every step. */
  sliceMs?: number;
  /** Runs the next slice later. Default setImmediate (after the port's pending messages). */
  schedule?: (next: () => void) => void;
}

type Queued = Extract<ToShard, { t: 'batch' | 'epoch' | 'replicate' | 'budget' | 'groups' }>;
type BatchMsg = Extract<ToShard, { t: 'batch' }>;

/** Applies a shard's messages in order, in slices; see the file comment. */
export class ShardRunner {
  readonly shard: Shard;
  readonly #send: RunnerOptions['send'];
  readonly #slice: number;
  readonly #schedule: (next: () => void) => void;
  #epoch: number;
  /** Messages waiting behind the batch in progress. */
  #queue: Queued[] = [];
  #batch: BatchMsg | null = null;
  /** The work in progress: a batch, or a recount of keys per replica set. */
  #run: BatchRun | Recount | null = null;
  /** The shard's keys when the work in progress started (what a ping reports meanwhile). */
  #keysBefore = 0;
  /** A slice is scheduled, or running: new messages wait for it. */
  #busy = false;
  readonly #next = (): void => this.#pump();

  constructor(shard: Shard, options: RunnerOptions) {
    this.shard = shard;
    this.#send = options.send;
    this.#epoch = options.epoch;
    this.#slice = options.sliceMs ?? SLICE_MS;
    this.#schedule = options.schedule ?? setImmediate;
  }

  /** Whether a batch is part way through (a walk between two slices). */
  get walking(): boolean {
    return this.#run !== null;
  }

  /** Messages waiting behind the work in progress. */
  get queued(): number {
    return this.#queue.length;
  }

  /** A message from the coordinator ('fault' is the worker entry's to handle). */
  receive(msg: ToShard): void {
    if (msg.t === 'ping') {
      // Half way through a batch or a recount the figures are not the shard's yet (a crash now
      // would reject that batch): the key count from before it, and the counts at its end.
      const busy = this.#run !== null;
      const keys = busy ? this.#keysBefore : this.shard.store.size;
      const counts = busy ? undefined : this.shard.store.groups?.take();
      this.#send(counts === undefined ? { t: 'pong', id: msg.id, keys } : { t: 'pong', id: msg.id, keys, counts });
      return;
    }
    if (msg.t === 'fault') return;
    this.#queue.push(msg);
    if (!this.#busy) this.#pump();
  }

  /**
   * Active expiry (ten times a second), and a budget lowered below what the shard holds reached a
   * bounded step at a time (LRU): between batches only, never inside a walk.
   */
  tick(): void {
    if (this.#run !== null) return;
    this.shard.store.sweep();
    this.shard.store.trim();
    const e = this.#effects();
    if (e !== null) this.#send({ t: 'effects', effects: e.bytes }, [e.bytes]);
  }

  #pump(): void {
    this.#busy = true;
    const deadline = performance.now() + this.#slice;
    for (;;) {
      if (this.#run === null) {
        const msg = this.#queue.shift();
        if (msg === undefined) {
          this.#busy = false;
          return;
        }
        this.#start(msg);
        if (this.#run === null) continue;
      }
      if (!this.#run.run(deadline)) break;
      this.#finish();
      if (this.#queue.length > 0 && performance.now() >= deadline) break;
    }
    this.#schedule(this.#next);
  }

  #start(msg: Queued): void {
    const store = this.shard.store;
    this.#keysBefore = store.size;
    if (msg.t === 'epoch') this.#epoch = msg.epoch;
    else if (msg.t === 'replicate') store.changes ??= new Set();
    else if (msg.t === 'budget') store.setMaxBytes(msg.maxBytes);
    else if (msg.t === 'groups') this.#run = new Recount(store, msg.table);
    else if (msg.epoch !== this.#epoch) {
      // The values' bytes go back with the refusal: the coordinator routes those SETs again.
      if (msg.bytes === undefined) this.#send({ t: 'wrong-epoch', id: msg.id, epoch: this.#epoch });
      else this.#send({ t: 'wrong-epoch', id: msg.id, epoch: this.#epoch, bytes: msg.bytes }, [msg.bytes]);
    } else {
      this.#batch = msg;
      this.#run = new BatchRun(this.shard, msg.ops, msg.bytes, msg.base);
    }
  }

  #finish(): void {
    const run = this.#run!;
    if (!(run instanceof BatchRun)) {
      this.#run = null;
      return;
    }
    const { results, errors, transfer, bytes } = run.outcome();
    const reply: FromShard = { t: 'reply', id: this.#batch!.id, results, keys: this.shard.store.size };
    this.#run = null;
    this.#batch = null;
    if (errors !== undefined) reply.errors = errors;
    const counts = this.shard.store.groups?.take();
    if (counts !== undefined) reply.counts = counts;
    let moved = transfer;
    if (bytes !== undefined) {
      reply.bytes = bytes;
      moved = moved === undefined ? [bytes] : [...moved, bytes];
    }
    const e = this.#effects();
    if (e !== null) {
      reply.effects = e.bytes;
      if (e.flushes > 0) reply.flushes = e.flushes;
      moved = moved === undefined ? [e.bytes] : [...moved, e.bytes];
    }
    this.#send(reply, moved);
  }

  /** Replication effects since the last call; keys of ranges this shard is handing over are the new owner's to report. */
  #effects(): ReturnType<typeof takeEffects> {
    const migration = this.shard.migration;
    const e = takeEffects(this.shard.store, migration.active ? this.#handedOver : undefined);
    // Keys exported by this batch are the new owner's from the next one on.
    migration.settleExports();
    return e;
  }

  readonly #handedOver = (key: string): boolean => this.shard.migration.handedOver(key);
}

/** Slots a recount covers between two looks at the clock. */
const RECOUNT_STEP = 4096;

/**
 * A new table of replica sets (the ring changed): the shard's keys counted again per set, a
 * step of slots at a time, so a shard of millions of keys still answers its watchdog meanwhile.
 */
class Recount {
  readonly #store: Shard['store'];
  #from = 0;

  constructor(store: Shard['store'], table: GroupTable) {
    this.#store = store;
    store.groups ??= new GroupCounts(table);
    // The new table with every count at zero; the steps add the keys back.
    store.groups.reset(table);
  }

  /** Counts until the slots end (true) or the deadline passes (false). */
  run(deadline: number): boolean {
    const store = this.#store;
    const groups = store.groups!;
    const add = (hash: number): void => groups.add(hash);
    while (this.#from < store.slots) {
      const to = this.#from + RECOUNT_STEP;
      store.eachKey(add, this.#from, to);
      this.#from = to;
      if (performance.now() >= deadline) return this.#from >= store.slots;
    }
    return true;
  }
}
