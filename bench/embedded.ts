// bench:embedded — the embedded cluster against what a Node app would use instead: an in-process
// async Map, lru-cache, and redis-server through ioredis (when redis-server is installed).
// Closed loop: N lanes each await one op at a time. Targets alternate within every round
// (A B C D, A B C D, ...) and the median round is reported, because this machine is noisy.
//
//   npm run bench:embedded -- [--seconds 1] [--rounds 3] [--keys 100000] [--value-size 100]
//                             [--inflight 16,128,1024] [--targets cluster,async-map,lru-cache,redis] [--json]
//                             [--workloads get,get-set] [--shards N] [--batch-ops N] [--batches-in-flight N]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { createCluster, type Cluster } from '../src/index.js';
import { freePort, waitForPort } from './ports.js';
import { reportLines } from './common.js';

interface Target {
  name: string;
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  preload(keys: string[], value: string): Promise<void>;
  close(): Promise<void>;
}

interface Result {
  target: string;
  workload: string;
  inflight: number;
  ops_per_sec: number;
  p50_us: number;
  p99_us: number;
  /** Main-thread busy time per op (event-loop utilisation × time ÷ ops): the cost a host app pays. */
  main_us_per_op: number;
}

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    keys: { type: 'string', default: '100000' },
    'value-size': { type: 'string', default: '100' },
    inflight: { type: 'string', default: '16,128,1024' },
    targets: { type: 'string', default: 'cluster,async-map,lru-cache,redis' },
    workloads: { type: 'string', default: 'get,get-set' },
    json: { type: 'boolean', default: false },
    shards: { type: 'string' },
    'batch-ops': { type: 'string' },
    'batches-in-flight': { type: 'string' },
    child: { type: 'string' },
  },
});

const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const keyCount = Number(args.keys);
const valueSize = Number(args['value-size']);
const inflights = args.inflight.split(',').map(Number);
const workloads = args.workloads.split(',');
const wanted = args.targets.split(',');
for (const [name, n] of [
  ['seconds', seconds],
  ['rounds', rounds],
  ['keys', keyCount],
  ['value-size', valueSize],
] as const) {
  if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
}
const log = reportLines(args.json);

// Flat strings (not cons strings): what a real app holds after reading from a socket or JSON.
const value = Buffer.alloc(valueSize, 'v').toString();
const keys = Array.from({ length: keyCount }, (_, i) => Buffer.from(`key:${String(i).padStart(12, '0')}`).toString());

function asyncMapTarget(): Target {
  const map = new Map<string, string>();
  return {
    name: 'async-map',
    get: async (k) => map.get(k),
    set: async (k, v) => void map.set(k, v),
    preload: async (ks, v) => {
      for (const k of ks) map.set(k, v);
    },
    close: async () => map.clear(),
  };
}

function lruTarget(): Target {
  const lru = new LRUCache<string, string>({ max: keyCount * 2 });
  return {
    name: 'lru-cache',
    get: async (k) => lru.get(k),
    set: async (k, v) => void lru.set(k, v),
    preload: async (ks, v) => {
      for (const k of ks) lru.set(k, v);
    },
    close: async () => lru.clear(),
  };
}

async function clusterTarget(): Promise<Target> {
  // Cluster defaults unless the tuning flags say otherwise.
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const c: Cluster = await createCluster({
    shards: num(args.shards),
    maxBatchOps: num(args['batch-ops']),
    maxBatchesInFlight: num(args['batches-in-flight']),
  });
  return {
    name: 'cluster',
    get: (k) => c.get(k),
    set: (k, v) => c.set(k, v),
    preload: async (ks, v) => {
      for (let i = 0; i < ks.length; i += 1000) await c.mset(ks.slice(i, i + 1000).map((k) => [k, v] as const));
    },
    close: () => c.close(),
  };
}

async function redisTarget(): Promise<Target | null> {
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
    name: 'redis',
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

/** One closed-loop run: `inflight` lanes for `seconds`; returns ops/s and latency percentiles. */
async function run(target: Target, workload: string, inflight: number): Promise<Omit<Result, 'target' | 'workload' | 'inflight'>> {
  const samples = new Float64Array(4_000_000);
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

function median<T>(xs: T[], by: (x: T) => number): T {
  return [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)]!;
}

const factories: Record<string, () => Promise<Target | null>> = {
  cluster: clusterTarget,
  'async-map': async () => asyncMapTarget(),
  'lru-cache': async () => lruTarget(),
  redis: redisTarget,
};
/** Child mode: one target, every workload × in-flight level once; prints its results as JSON. */
async function child(name: string): Promise<void> {
  const make = factories[name]!;
  const target = await make();
  if (target === null) {
    process.stdout.write('null\n');
    return;
  }
  await target.preload(keys, value);
  const out: Result[] = [];
  for (const workload of workloads) {
    for (const inflight of inflights) out.push({ target: name, workload, inflight, ...(await run(target, workload, inflight)) });
  }
  await target.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (args.child !== undefined) {
  await child(args.child);
  process.exit(0);
}

for (const name of wanted) {
  if (factories[name] === undefined) throw new Error(`unknown target ${name}; known: ${Object.keys(factories).join(', ')}`);
}
log(
  `bench:embedded — ${keyCount} keys, ${valueSize} B values, ${seconds} s per run, ${rounds} rounds (median shown); ` +
    'each target runs in its own process (no shared heap or GC), targets alternate within each round',
);

// Parent: rounds × targets, alternating (A B C D, A B C D, ...), each in a fresh process.
const passthrough = process.argv.slice(2).filter((a) => a !== '--json');
const runs = new Map<string, Result[]>();
for (let r = 0; r < rounds; r++) {
  for (const name of wanted) {
    const res = spawnSync(process.execPath, [process.argv[1]!, ...passthrough, '--child', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    if (res.status !== 0) throw new Error(`bench child for ${name} failed (exit ${res.status})`);
    const parsed = JSON.parse(res.stdout.trim().split('\n').pop()!) as Result[] | null;
    if (parsed === null) continue;
    for (const x of parsed) {
      const k = `${x.target}|${x.workload}|${x.inflight}`;
      runs.set(k, [...(runs.get(k) ?? []), x]);
    }
  }
}
const results: Result[] = [];
for (const workload of workloads) {
  for (const inflight of inflights) {
    for (const name of wanted) {
      const all = runs.get(`${name}|${workload}|${inflight}`);
      if (all !== undefined) results.push(median(all, (x) => x.ops_per_sec));
    }
  }
}

const pad = (s: string | number, w: number): string => String(s).padStart(w);
log(
  `${'target'.padEnd(10)} ${'workload'.padEnd(8)} ${pad('inflight', 8)} ${pad('ops/s', 10)} ${pad('p50 µs', 8)} ${pad('p99 µs', 8)} ${pad('main µs/op', 10)} ${pad('× map', 6)}`,
);
for (const r of results) {
  const base = results.find((b) => b.target === 'async-map' && b.workload === r.workload && b.inflight === r.inflight);
  const ratio = base === undefined ? '' : (r.ops_per_sec / base.ops_per_sec).toFixed(2);
  log(
    `${r.target.padEnd(10)} ${r.workload.padEnd(8)} ${pad(r.inflight, 8)} ${pad(r.ops_per_sec.toLocaleString('en'), 10)} ${pad(r.p50_us, 8)} ${pad(r.p99_us, 8)} ${pad(r.main_us_per_op.toFixed(2), 10)} ${pad(ratio, 6)}`,
  );
}
if (args.json) process.stdout.write(`${JSON.stringify({ results })}\n`);
