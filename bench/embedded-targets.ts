// What bench:embedded drives and how: the targets (cluster, async Map, lru-cache, redis-server via
// ioredis), the closed-loop lanes that measure one of them, and the plan both follow. Importable
// from a worker thread (bench/thread-target.ts): no flags parsed and nothing run at load time.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { attach, createCluster, type Cluster } from '../src/index.js';
import type { ThreadSetup } from './thread-target.js';
import { freePort, waitForPort } from './ports.js';

/** One store a lane awaits op by op. */
export interface Target {
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  preload(keys: string[], value: string): Promise<void>;
  close(): Promise<void>;
}

/** What one run of one target at one workload and in-flight level gives. */
export interface Result {
  target: string;
  workload: string;
  inflight: number;
  ops_per_sec: number;
  p50_us: number;
  p99_us: number;
  /** Busy time of the thread that issued the ops (event-loop utilisation × time ÷ ops): the cost a host app pays. */
  main_us_per_op: number;
  /** ops_per_sec ÷ lru-cache's at the same workload and in-flight level (set by the report). */
  ratio_to_lru?: number;
}

/** What every target of a run does: the keys and values, and which workload × in-flight runs. */
export interface LanePlan {
  seconds: number;
  keyCount: number;
  valueSize: number;
  workloads: string[];
  inflights: number[];
  /** Cluster tuning (undefined: the cluster's default). */
  shards?: number | undefined;
  batchOps?: number | undefined;
  batchesInFlight?: number | undefined;
}

/** A factory a worker thread can import by module path and export name: `data` is what the parent sent along. */
export type TargetFactory = (plan: LanePlan, data: unknown) => Promise<Target> | Target;

/** The bench's keys, as flat strings (not cons strings): what a real app holds after reading from a socket or JSON. */
export function benchKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(`key:${String(i).padStart(12, '0')}`).toString());
}

/** The value every SET writes: `size` bytes, a flat string. */
export function benchValue(size: number): string {
  return Buffer.alloc(size, 'v').toString();
}

/** An in-process Map behind async calls: the floor of what any cache API can cost. */
export function asyncMapTarget(): Target {
  const map = new Map<string, string>();
  return {
    get: async (k) => map.get(k),
    set: async (k, v) => void map.set(k, v),
    preload: async (ks, v) => {
      for (const k of ks) map.set(k, v);
    },
    close: async () => map.clear(),
  };
}

/** lru-cache in the calling thread (max = twice the keys: it never evicts here). */
export function lruTarget(plan: LanePlan): Target {
  const lru = new LRUCache<string, string>({ max: plan.keyCount * 2 });
  return {
    get: async (k) => lru.get(k),
    set: async (k, v) => void lru.set(k, v),
    preload: async (ks, v) => {
      for (const k of ks) lru.set(k, v);
    },
    close: async () => lru.clear(),
  };
}

/** An embedded cluster: the cluster's defaults unless the plan's tuning says otherwise. */
export async function clusterTarget(plan: LanePlan): Promise<Target> {
  const c: Cluster = await createCluster({ shards: plan.shards, maxBatchOps: plan.batchOps, maxBatchesInFlight: plan.batchesInFlight });
  return {
    get: (k) => c.get(k),
    set: (k, v) => c.set(k, v),
    preload: async (ks, v) => {
      for (let i = 0; i < ks.length; i += 1000) await c.mset(ks.slice(i, i + 1000).map((k) => [k, v] as const));
    },
    close: () => c.close(),
  };
}

/** Parent side of `cluster-thread`: the cluster in the bench's main thread, and a handle for the worker. */
export async function attachedSetup(plan: LanePlan): Promise<ThreadSetup> {
  const c = await createCluster({ shards: plan.shards, maxBatchOps: plan.batchOps, maxBatchesInFlight: plan.batchesInFlight });
  const h = c.handle();
  return { data: { h }, transfer: h.transfer, close: () => c.close() };
}

/** Worker side of `cluster-thread`: the parent's cluster attached in this thread (reads in place here, writes through the parent). */
export async function attachedTarget(_plan: LanePlan, data: unknown): Promise<Target> {
  const c = await attach((data as { h: unknown }).h);
  return {
    get: (k) => c.get(k),
    set: (k, v) => c.set(k, v),
    preload: async (ks, v) => {
      for (let i = 0; i < ks.length; i += 1000) await c.mset(ks.slice(i, i + 1000).map((k) => [k, v] as const));
    },
    close: () => c.close(),
  };
}

/** ioredis against a redis-server started on a free loopback port; null (after saying so) when none is installed. */
export async function redisTarget(log: (line: string) => void): Promise<Target | null> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    log('redis-server not found: skipping the redis target (apt-get install redis-server)');
    return null;
  }
  const port = await freePort();
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await waitForPort(port);
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  await client.connect();
  return {
    get: (k) => client.get(k),
    set: (k, v) => client.set(k, v),
    preload: async (ks, v) => {
      for (let i = 0; i < ks.length; i += 1000) await client.mset(ks.slice(i, i + 1000).flatMap((k) => [k, v]));
    },
    close: async () => {
      client.disconnect();
      server.kill();
      await once(server, 'exit');
    },
  };
}

type Figures = Omit<Result, 'target' | 'workload' | 'inflight'>;

/** One closed-loop run: `inflight` lanes for `plan.seconds`, each awaiting one op at a time; ops/s and latency percentiles. */
async function runLanes(
  target: Target,
  keys: string[],
  value: string,
  workload: string,
  inflight: number,
  seconds: number,
): Promise<Figures> {
  const samples = new Float64Array(4_000_000);
  const keyCount = keys.length;
  let n = 0;
  let ops = 0;
  const end = performance.now() + seconds * 1000;
  const writeEvery = workload === 'get-set' ? 2 : 0;
  const lane = async (seed: number): Promise<void> => {
    let x = seed * 2654435761 + 1;
    // Closed loop: an op starts when the previous one ends, so one clock read per op serves as
    // both the end of one and the start of the next (the clock is a measurable cost at 1M ops/s).
    let t0 = performance.now();
    while (t0 < end) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const key = keys[(x >>> 0) % keyCount]!;
      if (writeEvery !== 0 && (x & 1) === 0) await target.set(key, value);
      else await target.get(key);
      const t1 = performance.now();
      if (n < samples.length) samples[n++] = t1 - t0;
      t0 = t1;
      ops++;
    }
  };
  const start = performance.now();
  const elu0 = performance.eventLoopUtilization();
  await Promise.all(Array.from({ length: inflight }, (_, i) => lane(i + 1)));
  const elapsed = (performance.now() - start) / 1000;
  const busy = performance.eventLoopUtilization(elu0).active / 1000;
  const sorted = samples.subarray(0, n).sort();
  const pct = (p: number): number => Math.round((sorted[Math.min(n - 1, Math.floor(n * p))] ?? 0) * 1000);
  return {
    ops_per_sec: Math.round(ops / elapsed),
    p50_us: pct(0.5),
    p99_us: pct(0.99),
    main_us_per_op: Math.round((busy / ops) * 1e8) / 100,
  };
}

/** Preloads every key, runs each workload × in-flight level once, closes the target: the rows of one target. */
export async function runPlan(name: string, target: Target, plan: LanePlan): Promise<Result[]> {
  const keys = benchKeys(plan.keyCount);
  const value = benchValue(plan.valueSize);
  await target.preload(keys, value);
  const out: Result[] = [];
  for (const workload of plan.workloads) {
    for (const inflight of plan.inflights) {
      out.push({ target: name, workload, inflight, ...(await runLanes(target, keys, value, workload, inflight, plan.seconds)) });
    }
  }
  await target.close();
  return out;
}
