// The coordinator's side of cache handles: what `cluster.handle()` gives another thread, the
// routing words in shared memory that only the coordinator writes, and the port that runs a
// handle's writes (and the reads it cannot answer in place) through the cluster's own API.
// It never runs a method that is not in HANDLE_METHODS, and never lets a bad request end the process.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { CacheError } from '../errors.js';
import type { ShardMemory } from '../protocol.js';

/** Routing words (Int32) in a handle's shared `routing` buffer, written only by the coordinator. */
export const R_MAGIC = 0;
/** Increases on every routing change; a handle reads in place only under the snapshot of this version. */
export const R_VERSION = 1;
/** 1 once the cluster is closing or closed: handles answer CLOSED. */
export const R_CLOSED = 2;
/** Key locks held now (RENAME, COPY, MSETNX…): handles read through the coordinator meanwhile. */
export const R_LOCKS = 3;
/** Increases when a lock is taken and when it is released: a read that saw it move is not used. */
export const R_LOCK_EVENTS = 4;
export const ROUTING_WORDS = 8;
export const ROUTING_MAGIC = 0x53434831; // 'SCH1'

/** The cluster methods a handle may call, and whether each is a read that changes nothing (a read-only replica refuses the writes). */
export const HANDLE_METHODS: Readonly<Record<string, 'read' | 'write'>> = {
  get: 'read',
  mget: 'read',
  exists: 'read',
  strlen: 'read',
  getRange: 'read',
  ttl: 'read',
  pttl: 'read',
  pexpireTime: 'read',
  keys: 'read',
  scan: 'read',
  dbsize: 'read',
  randomKey: 'read',
  set: 'write',
  incrBy: 'write',
  incr: 'write',
  decr: 'write',
  decrBy: 'write',
  incrByFloat: 'write',
  append: 'write',
  setRange: 'write',
  getDel: 'write',
  getEx: 'write',
  expire: 'write',
  pexpire: 'write',
  expireAt: 'write',
  pexpireAt: 'write',
  persist: 'write',
  del: 'write',
  mset: 'write',
  msetNx: 'write',
  rename: 'write',
  copy: 'write',
  flushall: 'write',
};

/**
 * What a handle needs to route and read in place like the coordinator: the ring's members, the
 * copies per key, whether a range is moving, and each ready shard's memory.
 */
export interface RoutingSnapshot {
  t: 'routing';
  version: number;
  replicas: number;
  virtualNodes: number;
  /** False when the cluster hashes keys with a function other threads cannot have (tests): nothing is read in place. */
  defaultHash: boolean;
  moving: boolean;
  members: [number, string][];
  memories: [number, ShardMemory][];
}

/** A request from a handle, and the answer. */
export interface HandleRequest {
  id: number;
  method: string;
  args: unknown[];
}
export type HandleAnswer = { id: number; ok: unknown } | { id: number; err: { code: string; message: string } } | { t: 'closed' };

/**
 * A cache handle: a plain object to send to another thread of this process with its ports in
 * `transfer` (`new Worker(file, { workerData: { h }, transferList: h.transfer })`), where
 * `attach(h)` turns it into a cache.
 */
export interface CacheHandle {
  kind: 'shardcache-handle';
  port: MessagePort;
  routing: SharedArrayBuffer;
  transfer: MessagePort[];
}

/** The coordinator's handles: makes them, tells them of routing changes, runs their requests. */
export class HandleHost {
  readonly routing = new SharedArrayBuffer(ROUTING_WORDS * 4);
  #words = new Int32Array(this.routing);
  #ports = new Set<MessagePort>();
  #snapshot: () => Omit<RoutingSnapshot, 't' | 'version'>;
  #run: (method: string, args: unknown[]) => Promise<unknown>;

  constructor(snapshot: () => Omit<RoutingSnapshot, 't' | 'version'>, run: (method: string, args: unknown[]) => Promise<unknown>) {
    this.#words[R_MAGIC] = ROUTING_MAGIC;
    this.#snapshot = snapshot;
    this.#run = run;
  }

  /** A new handle; its port serves until the cluster closes or the other side closes it. */
  create(): CacheHandle {
    if (this.#words[R_CLOSED] === 1) throw new CacheError('CLOSED', 'the cluster is closed');
    const { port1, port2 } = new MessageChannel();
    this.#ports.add(port1);
    port1.on('message', (msg: unknown) => this.#onRequest(port1, msg));
    port1.on('close', () => this.#ports.delete(port1));
    port1.unref();
    port1.postMessage(this.#snapshotNow());
    return { kind: 'shardcache-handle', port: port2, routing: this.routing, transfer: [port2] };
  }

  /** Routing changed (ring, shards, a move, a crash): handles stop reading in place until they have the new snapshot. */
  changed(): void {
    Atomics.add(this.#words, R_VERSION, 1);
    if (this.#ports.size === 0) return;
    const snap = this.#snapshotNow();
    for (const p of this.#ports) p.postMessage(snap);
  }

  /** A key lock was taken (+1) or released (-1). */
  lock(delta: 1 | -1): void {
    Atomics.add(this.#words, R_LOCK_EVENTS, 1);
    Atomics.add(this.#words, R_LOCKS, delta);
  }

  /** The cluster closes: every handle answers CLOSED from now on. */
  close(): void {
    Atomics.store(this.#words, R_CLOSED, 1);
    for (const p of this.#ports) {
      p.postMessage({ t: 'closed' } satisfies HandleAnswer);
      p.close();
    }
    this.#ports.clear();
  }

  #snapshotNow(): RoutingSnapshot {
    return { t: 'routing', version: Atomics.load(this.#words, R_VERSION), ...this.#snapshot() };
  }

  #onRequest(port: MessagePort, msg: unknown): void {
    const req = msg as Partial<HandleRequest>;
    const id = typeof req?.id === 'number' ? req.id : -1;
    const answer = (a: HandleAnswer): void => {
      if (this.#ports.has(port)) port.postMessage(a);
    };
    if (id < 0 || typeof req.method !== 'string' || !Object.hasOwn(HANDLE_METHODS, req.method) || !Array.isArray(req.args)) {
      answer({ id, err: { code: 'EINVAL', message: 'not a request a cache handle makes' } });
      return;
    }
    this.#run(req.method, req.args).then(
      (ok) => answer({ id, ok }),
      (e: unknown) => {
        const err = e instanceof CacheError ? e : new CacheError('INTERNAL', e instanceof Error ? e.message : String(e));
        answer({ id, err: { code: err.code, message: err.message } });
      },
    );
  }
}
