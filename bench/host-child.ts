// One target of bench:host in a process of its own (started by bench/host.ts with --expose-gc):
// preloads the keys, then measures ops/s, the event loop's delay, the main thread's GC share and
// memory over the closed-loop window only. Prints one JSON line; it never prints anything else to stdout.
import { monitorEventLoopDelay, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { LRUCache } from 'lru-cache';
import { createCluster } from '../src/index.js';
import { entryKey, exitOnCrash, msetRange, requirePositiveInts, ValueMaker } from './common.js';

/** The figures of one target, as bench:host reports them. */
export interface HostFigures {
  target: string;
  ops_per_sec: number;
  /** Event-loop delay over the measured window (monitorEventLoopDelay, 1 ms resolution), ms. */
  loop_p99_ms: number;
  loop_max_ms: number;
  /** Main-thread GC time ('gc' performance entries) ÷ the window's wall time. */
  gc_share_main: number;
  /** heapUsed of the main thread at the end, MB. */
  main_heap_mb: number;
  /** The whole process's RSS at the end (worker threads included), MB. */
  rss_mb: number;
  preload_s: number;
  /** GETs that found nothing: 0 unless the target lost a preloaded key. */
  get_misses: number;
}

interface HostTarget {
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  /** Stores entries [from, to) with generation-0 values, in big batches. */
  preload(from: number, to: number): Promise<void>;
  close(): Promise<void>;
}

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'shardcache' },
    keys: { type: 'string', default: '5000000' },
    seconds: { type: 'string', default: '10' },
    lanes: { type: 'string', default: '64' },
    'set-ratio': { type: 'string', default: '0.2' },
    'value-size': { type: 'string', default: '100' },
    'watchdog-timeout': { type: 'string', default: '1500' },
  },
});
const keys = Number(args.keys);
const lanes = Number(args.lanes);
const seconds = Number(args.seconds);
const setRatio = Number(args['set-ratio']);
requirePositiveInts({ keys, lanes });
if (!(seconds > 0)) throw new Error('--seconds must be a positive number');
if (!(setRatio >= 0 && setRatio <= 1)) throw new Error('--set-ratio must be a number from 0 to 1');
const values = new ValueMaker(Number(args['value-size']));

async function shardcache(): Promise<HostTarget> {
  const c = await createCluster({ watchdogTimeoutMs: Number(args['watchdog-timeout']) });
  exitOnCrash(c, 'bench:host');
  return {
    get: (k) => c.get(k),
    set: (k, v) => c.set(k, v),
    preload: (from, to) => msetRange(c, values, from, to),
    close: () => c.close(),
  };
}

function lruCache(): HostTarget {
  const lru = new LRUCache<string, string>({ max: keys });
  return {
    get: async (k) => lru.get(k),
    set: async (k, v) => void lru.set(k, v),
    preload: async (from, to) => {
      for (let i = from; i < to; i++) lru.set(entryKey(i), values.value(i, 0));
    },
    close: async () => lru.clear(),
  };
}

const makers: Record<string, () => Promise<HostTarget> | HostTarget> = { shardcache, 'lru-cache': lruCache };
const make = makers[args.target];
if (make === undefined) throw new Error(`unknown target ${args.target}; known: ${Object.keys(makers).join(', ')}`);
const target = await make();

const p0 = performance.now();
await target.preload(0, keys);
const preloadSeconds = (performance.now() - p0) / 1000;
(globalThis as { gc?: () => void }).gc?.();

// The measured window: the loop-delay histogram and the GC entries count from here only.
let gcMs = 0;
let windowStart = Number.POSITIVE_INFINITY;
let windowEnd = Number.POSITIVE_INFINITY;
const countGc = (entries: PerformanceEntry[]): void => {
  for (const e of entries) if (e.startTime >= windowStart && e.startTime < windowEnd) gcMs += e.duration;
};
const gcObserver = new PerformanceObserver((list) => countGc(list.getEntries()));
gcObserver.observe({ entryTypes: ['gc'] });
const delay = monitorEventLoopDelay({ resolution: 1 });
let ops = 0;
let misses = 0;
windowStart = performance.now();
delay.enable();
const end = windowStart + seconds * 1000;
let gen = 0;
// Each lane yields to the event loop after every op, as a server handling one request per turn
// would: an in-process store answers without a turn of the loop, and without this its lanes would
// hold the loop for the whole window (no delay measured, no I/O served).
const lane = async (laneNo: number): Promise<void> => {
  let x = laneNo * 2654435761 + 1;
  while (performance.now() < end) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const i = (x >>> 0) % keys;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    if ((x >>> 0) / 4294967296 < setRatio) await target.set(entryKey(i), values.value(i, ++gen));
    else if ((await target.get(entryKey(i))) == null) misses++;
    ops++;
    await nextTurn();
  }
};
await Promise.all(Array.from({ length: lanes }, (_, n) => lane(n + 1)));
windowEnd = performance.now();
delay.disable();
// GC entries are delivered asynchronously: let the last ones in before counting.
await nextTurn();
countGc(gcObserver.takeRecords());
gcObserver.disconnect();
const windowMs = windowEnd - windowStart;
const mb = (n: number): number => Math.round((n / 2 ** 20) * 10) / 10;
const figures: HostFigures = {
  target: args.target,
  ops_per_sec: Math.round((ops / windowMs) * 1000),
  loop_p99_ms: Math.round(delay.percentile(99) / 1e4) / 100,
  loop_max_ms: Math.round(delay.max / 1e4) / 100,
  gc_share_main: Math.round((gcMs / windowMs) * 10000) / 10000,
  main_heap_mb: mb(process.memoryUsage().heapUsed),
  rss_mb: mb(process.memoryUsage.rss()),
  preload_s: Math.round(preloadSeconds * 10) / 10,
  get_misses: misses,
};
await target.close();
process.stdout.write(`${JSON.stringify(figures)}\n`);
