// The cache in a thread that attached a handle (`attach(cluster.handle())`): reads answered in
// this thread from the shards' shared memory when its routing snapshot is current, everything
// else sent over the handle's port to the coordinator, which runs it through the cluster's API.
// It never reads in place a key it has a write of still on its way, nor while the coordinator
// holds key locks or moves a range, nor under a routing snapshot older than the routing words say.
import type { MessagePort } from 'node:worker_threads';
import { keyArg } from '../args.js';
import type { Cluster } from '../cluster.js';
import { CacheError, type ErrorCode } from '../errors.js';
import { fingerprint32 } from '../hash.js';
import { hashInternal } from '../keys.js';
import { HashRing } from '../ring.js';
import {
  type CacheHandle,
  HANDLE_METHODS,
  type HandleAnswer,
  type HandleRequest,
  R_CLOSED,
  R_LOCK_EVENTS,
  R_LOCKS,
  R_MAGIC,
  R_VERSION,
  ROUTING_MAGIC,
  ROUTING_WORDS,
  type RoutingSnapshot,
} from './handles.js';
import { isShardMemory } from './layout.js';
import { TurnBudget } from './turns.js';
import { FALLBACK, ShardView } from './view.js';

/** The cluster methods a handle offers. */
export type HandleMethod = keyof typeof HANDLE_METHODS & keyof Cluster;

/** A cache in another thread: the cluster's data API, reads in this thread, writes through the coordinator. */
export type AttachedCache = Pick<Cluster, HandleMethod | 'scanIterator'> & {
  /** Detaches this thread: its calls answer CLOSED from now on (the cluster goes on). */
  close(): Promise<void>;
  readonly closed: boolean;
  /** Reads this thread answered in place, without a message. */
  readonly localReads: number;
};

/** Writes that name one key: their first argument. Every other write holds back all reads in place. */
const KEYED = new Set([
  'set',
  'incrBy',
  'incr',
  'decr',
  'decrBy',
  'incrByFloat',
  'append',
  'setRange',
  'getDel',
  'getEx',
  'expire',
  'pexpire',
  'expireAt',
  'pexpireAt',
  'persist',
]);

/**
 * Turns a handle made by `cluster.handle()` in another thread of this process into a cache.
 * Throws CacheError EINVAL for anything else (a handle that crossed a process boundary has lost
 * its port and shared memory), CLOSED when its cluster is closed.
 */
export async function attach(handle: unknown): Promise<AttachedCache> {
  const h = handle as Partial<CacheHandle> | null;
  if (typeof h !== 'object' || h === null || h.kind !== 'shardcache-handle')
    throw new CacheError('EINVAL', 'attach() takes a handle made by cluster.handle()');
  if (
    !(h.routing instanceof SharedArrayBuffer) ||
    h.routing.byteLength !== ROUTING_WORDS * 4 ||
    new Int32Array(h.routing)[R_MAGIC] !== ROUTING_MAGIC
  )
    throw new CacheError(
      'EINVAL',
      'this handle has lost its shared memory: a handle works only in a thread of the process whose cluster made it',
    );
  if (typeof h.port !== 'object' || h.port === null || typeof (h.port as MessagePort).postMessage !== 'function')
    throw new CacheError('EINVAL', 'this handle has lost its port: send it with its transfer list, to a thread of the same process');
  if (Atomics.load(new Int32Array(h.routing), R_CLOSED) === 1) throw new CacheError('CLOSED', 'the cluster of this handle is closed');
  const cache = new Attached(h.port as MessagePort, h.routing);
  await cache.ready;
  return cache as unknown as AttachedCache;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  /** The key of a keyed write, '' for a write naming none, null for a read. */
  key: string | null;
}

class Attached {
  readonly ready: Promise<void>;
  #port: MessagePort;
  #words: Int32Array;
  #closed = false;
  #nextId = 1;
  #calls = new Map<number, Pending>();
  #writeKeys = new Map<string, number>();
  #keylessWrites = 0;
  #snap: RoutingSnapshot | null = null;
  #ring: HashRing | null = null;
  #views = new Map<number, ShardView>();
  #onReady: (() => void) | null = null;
  #turns = new TurnBudget();

  constructor(port: MessagePort, routing: SharedArrayBuffer) {
    this.#port = port;
    this.#words = new Int32Array(routing);
    this.ready = new Promise((resolve) => {
      this.#onReady = resolve;
    });
    port.on('message', (msg: HandleAnswer | RoutingSnapshot) => this.#onMessage(msg));
    port.on('close', () => this.#shut());
    port.unref();
  }

  get closed(): boolean {
    return this.#closed || Atomics.load(this.#words, R_CLOSED) === 1;
  }

  localReads = 0;

  async close(): Promise<void> {
    this.#shut();
    this.#port.close();
  }

  // ---- reads in place -------------------------------------------------------------------------

  get(key: unknown): Promise<unknown> {
    return this.#read('get', [key], (view, k, now) => view.get(k, now));
  }

  pttl(key: unknown): Promise<unknown> {
    return this.#read('pttl', [key], (view, k, now) => {
      const at = view.expiry(k, now);
      return at === FALLBACK || at < 0 ? at : Math.max(0, at - now);
    });
  }

  ttl(key: unknown): Promise<unknown> {
    return this.#read('ttl', [key], (view, k, now) => {
      const at = view.expiry(k, now);
      return at === FALLBACK || at < 0 ? at : Math.floor((Math.max(0, at - now) + 500) / 1000);
    });
  }

  pexpireTime(key: unknown): Promise<unknown> {
    return this.#read('pexpireTime', [key], (view, k, now) => view.expiry(k, now));
  }

  strlen(key: unknown): Promise<unknown> {
    return this.#read('strlen', [key], (view, k, now) => view.strlen(k, now));
  }

  getRange(key: unknown, start: unknown, end: unknown): Promise<unknown> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return this.#call('getRange', [key, start, end]);
    return this.#read('getRange', [key, start, end], (view, k, now) => view.getRange(k, start as number, end as number, now));
  }

  async *scanIterator(options: { match?: string; count?: number } = {}): AsyncGenerator<string | Buffer> {
    let cursor = '0';
    do {
      const [next, keys] = (await this.#call('scan', [cursor, options])) as [string, (string | Buffer)[]];
      yield* keys;
      cursor = next;
    } while (cursor !== '0');
  }

  /** Method `method` answered by `inPlace` on the key's owner when routing allows, else by the coordinator. */
  #read(method: string, args: unknown[], inPlace: (view: ShardView, key: string, now: number) => unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(closedError());
    let k: string;
    try {
      k = keyArg(args[0]);
    } catch (err) {
      return Promise.reject(err);
    }
    const view = this.#keylessWrites === 0 && !this.#writeKeys.has(k) ? this.#owner(k) : null;
    if (view !== null) {
      const version = this.#snap!.version;
      const lockEvents = Atomics.load(this.#words, R_LOCK_EVENTS);
      if (Atomics.load(this.#words, R_LOCKS) === 0) {
        const out = inPlace(view, k, Date.now());
        // Still the routing it was read under, and no key lock came and went meanwhile.
        if (
          out !== FALLBACK &&
          Atomics.load(this.#words, R_VERSION) === version &&
          Atomics.load(this.#words, R_LOCK_EVENTS) === lockEvents
        ) {
          this.localReads++;
          return this.#turns.resolve(out);
        }
      }
    }
    return this.#call(method, args);
  }

  /** The view of the shard that answers reads of `key` under the current snapshot, or null. */
  #owner(key: string): ShardView | null {
    const snap = this.#snap;
    const ring = this.#ring;
    if (snap === null || ring === null || snap.moving || snap.replicas !== 1) return null;
    if (Atomics.load(this.#words, R_VERSION) !== snap.version) return null;
    return this.#views.get(ring.ownerOf(hashInternal(fingerprint32, key))) ?? null;
  }

  // ---- the coordinator ------------------------------------------------------------------------

  call(method: string, args: unknown[]): Promise<unknown> {
    return this.#call(method, args);
  }

  #call(method: string, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(closedError());
    let key: string | null = null;
    if (HANDLE_METHODS[method] === 'write') {
      if (KEYED.has(method)) {
        try {
          key = keyArg(args[0]);
        } catch (err) {
          return Promise.reject(err);
        }
        this.#writeKeys.set(key, (this.#writeKeys.get(key) ?? 0) + 1);
      } else {
        key = '';
        this.#keylessWrites++;
      }
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject, key });
      if (this.#calls.size === 1) this.#port.ref();
      try {
        this.#port.postMessage({ id, method, args } satisfies HandleRequest);
      } catch (err) {
        this.#settle(id);
        reject(new CacheError('EINVAL', `cannot send these arguments to the cache: ${(err as Error).message}`));
      }
    });
  }

  #settle(id: number): Pending | undefined {
    const p = this.#calls.get(id);
    if (p === undefined) return undefined;
    this.#calls.delete(id);
    if (this.#calls.size === 0) this.#port.unref();
    if (p.key === '') this.#keylessWrites--;
    else if (p.key !== null) {
      const n = this.#writeKeys.get(p.key)!;
      if (n === 1) this.#writeKeys.delete(p.key);
      else this.#writeKeys.set(p.key, n - 1);
    }
    return p;
  }

  #onMessage(msg: HandleAnswer | RoutingSnapshot): void {
    if ('t' in msg) {
      if (msg.t === 'closed') this.#shut();
      else this.#onRouting(msg);
      return;
    }
    const p = this.#settle(msg.id);
    if (p === undefined) return;
    if ('err' in msg) p.reject(new CacheError(msg.err.code as ErrorCode, msg.err.message));
    else p.resolve(fromWire(msg.ok));
  }

  #onRouting(snap: RoutingSnapshot): void {
    this.#snap = snap;
    this.#views.clear();
    this.#ring = null;
    if (snap.defaultHash) {
      const ring = new HashRing({ virtualNodes: snap.virtualNodes, hash: fingerprint32 });
      for (const [id, name] of snap.members) ring.add(id, name);
      this.#ring = ring;
      for (const [id, memory] of snap.memories) if (isShardMemory(memory)) this.#views.set(id, new ShardView(memory));
    }
    this.#onReady?.();
    this.#onReady = null;
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#snap = null;
    this.#views.clear();
    for (const id of [...this.#calls.keys()]) this.#settle(id)!.reject(closedError());
    this.#onReady?.();
    this.#onReady = null;
  }
}

// Every other method of the handle goes to the coordinator as it is.
for (const method of Object.keys(HANDLE_METHODS)) {
  if (Object.hasOwn(Attached.prototype, method)) continue;
  Object.defineProperty(Attached.prototype, method, {
    value(this: Attached, ...args: unknown[]) {
      return this.call(method, args);
    },
  });
}

function closedError(): CacheError {
  return new CacheError('CLOSED', 'this cache handle is closed');
}

/** Values as the coordinator's API gives them: bytes that crossed the port come back as Buffers. */
function fromWire(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(fromWire);
  return v;
}
