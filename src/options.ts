// Cluster options: what a host app may set, the defaults, and validation at the public edge.
// Every error names the option (`options.shards must be ...`).
import { einval } from './errors.js';
import { fingerprint32, type HashFn } from './hash.js';
import type { EvictionPolicy } from './protocol.js';

export const EVICTION_POLICIES: readonly EvictionPolicy[] = ['noeviction', 'allkeys-lru'];

/** Options of `createCluster`. Every one is optional. */
export interface ClusterOptions {
  /** Shards (worker threads) to start. Default 3. From 1 to 256. */
  shards?: number;
  /** Copies of every key, on the next distinct shards of the ring. Default 1. With 2 or more, a crashed shard loses nothing: its replacement is refilled from the other copies. Each copy costs its memory and every write goes to all. From 1 to 5. */
  replicas?: number;
  /** Hash ranges moved at once during a migration. Default 2. More finishes a move sooner and costs the ops running meanwhile more latency (bench:rebalance, 1M keys: 1 → ~2 s and p99 ×3; 2 → ~1.2 s and ×5; 4 → ~0.9 s and ×12). From 1 to 64. */
  migrationConcurrency?: number;
  /** Most shards the cluster may grow to with addShard(). Default 64 (or `shards`, if larger). From 1 to 1024. */
  maxShards?: number;
  /** Virtual nodes per shard on the ring. Default 256 (largest shard ≤ 1.02 × mean with 3 shards). Costs memory and a little lookup time per shard added. */
  virtualNodes?: number;
  /** Memory limit of the whole cluster in estimated bytes, split evenly over shards. Default 0 = unlimited. */
  maxMemoryBytes?: number;
  /** What happens at maxMemoryBytes: `noeviction` (writes fail with OOM) or `allkeys-lru`. Default `noeviction`. */
  evictionPolicy?: EvictionPolicy;
  /** Largest key or value in bytes. Default 512 MiB (Redis's proto-max-bulk-len). */
  maxValueBytes?: number;
  /** Most ops in one message to a shard. Default 128: each message wakes the shard's thread, so under load bigger batches cost the main thread less (bench:embedded). */
  maxBatchOps?: number;
  /** Most batches in flight per shard; more ops wait in the shard's queue. Half of them take any batch, the rest only batches of ≥ 32 ops. Default 4. */
  maxBatchesInFlight?: number;
  /** How often each shard is pinged. Default 250 ms. */
  watchdogIntervalMs?: number;
  /** A shard that has not answered a ping for this long is declared hung, terminated and replaced. Default 1500 ms; 0 disables the watchdog. */
  watchdogTimeoutMs?: number;
  /** Times a shard that dies before it is ready is restarted before it is left down. Default 3. */
  maxBootFailures?: number;
  /** V8 old-generation limit per shard worker, MB. Default 0 = V8's default. */
  shardHeapMb?: number;
  /** Accept fault injection (`cluster.injectFault`): tests and the chaos check only. Default false. */
  faultInjection?: boolean;
  /** Key hash. Default farmhash fingerprint32. Tests swap in another to check placement by hand. */
  hash?: HashFn;
}

export type ResolvedOptions = Required<ClusterOptions>;

export const DEFAULTS: ResolvedOptions = {
  shards: 3,
  replicas: 1,
  migrationConcurrency: 2,
  maxShards: 64,
  virtualNodes: 256,
  maxMemoryBytes: 0,
  evictionPolicy: 'noeviction',
  maxValueBytes: 512 * 1024 * 1024,
  maxBatchOps: 128,
  maxBatchesInFlight: 4,
  watchdogIntervalMs: 250,
  watchdogTimeoutMs: 1500,
  maxBootFailures: 3,
  shardHeapMb: 0,
  faultInjection: false,
  hash: fingerprint32,
};

function int(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw einval(`options.${name} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** A short, safe rendering of a bad value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** Fills defaults and validates; throws CacheError EINVAL naming the option. */
export function resolveOptions(options: ClusterOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw einval('options must be an object');
  const known = new Set(Object.keys(DEFAULTS));
  for (const name of Object.keys(options)) if (!known.has(name)) throw einval(`options.${name} is not an option`);
  const given = stripUndefined(options);
  // maxShards defaults to 64, or to the starting shard count when that is larger.
  const o = { ...DEFAULTS, maxShards: Math.max(DEFAULTS.maxShards, typeof given.shards === 'number' ? given.shards : 0), ...given };
  int('shards', o.shards, 1, 256);
  int('maxShards', o.maxShards, 1, 1024);
  int('replicas', o.replicas, 1, 5);
  int('migrationConcurrency', o.migrationConcurrency, 1, 64);
  if (o.shards > o.maxShards) throw einval(`options.shards (${o.shards}) must not exceed options.maxShards (${o.maxShards})`);
  int('virtualNodes', o.virtualNodes, 1, 65536);
  int('maxMemoryBytes', o.maxMemoryBytes, 0, Number.MAX_SAFE_INTEGER);
  if (!EVICTION_POLICIES.includes(o.evictionPolicy)) {
    throw einval(`options.evictionPolicy must be one of ${EVICTION_POLICIES.join(', ')}, got ${describe(o.evictionPolicy)}`);
  }
  int('maxValueBytes', o.maxValueBytes, 1, 2 ** 31 - 1);
  int('maxBatchOps', o.maxBatchOps, 1, 4096);
  int('maxBatchesInFlight', o.maxBatchesInFlight, 1, 1024);
  int('watchdogIntervalMs', o.watchdogIntervalMs, 1, 3_600_000);
  int('watchdogTimeoutMs', o.watchdogTimeoutMs, 0, 3_600_000);
  int('maxBootFailures', o.maxBootFailures, 1, 100);
  int('shardHeapMb', o.shardHeapMb, 0, 1 << 20);
  if (typeof o.faultInjection !== 'boolean') throw einval('options.faultInjection must be a boolean');
  if (typeof o.hash !== 'function') throw einval('options.hash must be a function');
  if (o.hash !== fingerprint32 && o.replicas > 1) {
    // Shards hash keys themselves (with farmhash) to refill a replacement: another hash would move the wrong keys.
    throw einval('options.hash can only be replaced with replicas 1 (shards refill copies with the default hash)');
  }
  if (o.maxMemoryBytes > 0 && o.maxMemoryBytes < o.shards * 1024) {
    throw einval(`options.maxMemoryBytes must be 0 (unlimited) or at least 1 KiB per shard, got ${o.maxMemoryBytes}`);
  }
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
