// bench:rebalance — what adding a shard under load costs the ops that keep arriving. A 3-shard
// cluster is preloaded, then N closed-loop lanes run a GET/SET mix on uniformly random keys while
// addShard() moves a quarter of the keys to the new shard. Phases: `before` (settle seconds),
// `during` (from the addShard() call until it resolves), `after` (settle seconds). Each op's
// latency counts in the phase in which it STARTED. Then every preloaded key is read back.
//
//   npm run bench:rebalance -- [--keys 1000000] [--value-size 100] [--lanes 64] [--write-ratio 0.1]
//                              [--settle 2] [--timeout 600] [--migration-concurrency N] [--json]
//
// Checks, all of which must come out 0:
//   lost    preloaded keys missing at the end;
//   stale   keys whose final value is older than a write that started after that value's write
//           had been acknowledged (a lost update). Every value is `<key>:<version>:` padded to
//           --value-size: version 0 is the preload, the load numbers its writes in issue order;
//   misses  GETs during the load that found nothing (keys are never deleted and never expire);
//   errors  ops that rejected.
import { parseArgs } from 'node:util';
import { createCluster } from '../src/index.js';
import type { MigrationEvent } from '../src/cluster.js';
import { giveUpAfter, reportLines, requirePositiveInts } from './common.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-size': { type: 'string', default: '100' },
    lanes: { type: 'string', default: '64' },
    'write-ratio': { type: 'string', default: '0.1' },
    settle: { type: 'string', default: '2' },
    timeout: { type: 'string', default: '600' },
    'migration-concurrency': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const keyCount = Number(args.keys);
const valueSize = Number(args['value-size']);
const laneCount = Number(args.lanes);
const writeRatio = Number(args['write-ratio']);
const settleMs = Number(args.settle) * 1000;
const timeoutMs = Number(args.timeout) * 1000;
requirePositiveInts({ keys: keyCount, 'value-size': valueSize, lanes: laneCount });
if (!(writeRatio >= 0 && writeRatio <= 1)) throw new Error('--write-ratio must be from 0 to 1');
if (!(settleMs >= 0)) throw new Error('--settle must be a number of seconds ≥ 0');
if (!(timeoutMs > 0)) throw new Error('--timeout must be a positive number of seconds');

const log = reportLines(args.json);

// Bounded: whatever happens (a migration that never resolves, say), the process ends.
giveUpAfter('bench:rebalance', timeoutMs / 1000);

// Flat strings (not cons strings), as in bench:embedded.
const flat = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');
const keys = Array.from({ length: keyCount }, (_, i) => flat(`key:${String(i).padStart(12, '0')}`));
const padding = 'v'.repeat(valueSize);
/** `<key>:<version>:` padded to the value size (longer when the head alone is longer). */
function valueFor(key: string, version: number): string {
  const head = `${key}:${version}:`;
  return head.length >= valueSize ? head : head + padding.slice(0, valueSize - head.length);
}

/** Latencies (ms) of the ops that started in one phase; grows as needed. */
class Phase {
  samples = new Float64Array(1 << 20);
  n = 0;
  startedAt = 0;
  endedAt = 0;
  add(ms: number): void {
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.n * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.n++] = ms;
  }
  summary(): { ops: number; ops_per_sec: number; p50_us: number; p99_us: number; max_us: number } {
    const sorted = this.samples.subarray(0, this.n).sort();
    const us = (ms: number | undefined): number => Math.round((ms ?? 0) * 1000);
    const pct = (p: number): number => us(sorted[Math.min(this.n - 1, Math.floor(this.n * p))]);
    const seconds = (this.endedAt - this.startedAt) / 1000;
    return {
      ops: this.n,
      ops_per_sec: seconds > 0 ? Math.round(this.n / seconds) : 0,
      p50_us: pct(0.5),
      p99_us: pct(0.99),
      max_us: us(sorted[this.n - 1]),
    };
  }
}

const cluster = await createCluster({
  shards: 3,
  ...(args['migration-concurrency'] === undefined ? {} : { migrationConcurrency: Number(args['migration-concurrency']) }),
});

// ---- preload ----------------------------------------------------------------------------------
log(
  `bench:rebalance — 3 shards + 1 under load: ${keyCount.toLocaleString('en')} keys × ${valueSize} B, ` +
    `${laneCount} lanes, ${Math.round(writeRatio * 100)}% SET, ${args.settle} s before and after`,
);
const tPreload = performance.now();
for (let i = 0; i < keyCount; i += 1000) {
  await cluster.mset(keys.slice(i, i + 1000).map((k) => [k, flat(valueFor(k, 0))] as const));
}
const tPreloaded = performance.now();
log(`preload: ${keyCount.toLocaleString('en')} keys in ${((tPreloaded - tPreload) / 1000).toFixed(1)} s`);

// ---- migration events -------------------------------------------------------------------------
let migStart = 0;
let migDone = 0;
let moved = 0;
let ranges = 0;
cluster.on('migration', (e: MigrationEvent) => {
  if (e.phase === 'start') migStart = performance.now();
  else {
    migDone = performance.now();
    moved = e.keysMoved;
    ranges = e.rangesTotal;
  }
});

// ---- load -------------------------------------------------------------------------------------
const phases = { before: new Phase(), during: new Phase(), after: new Phase() };
let current: Phase | null = phases.before;
/** Per key: start time of the last SET issued on it (0: none). */
const lastWriteStart = new Float64Array(keyCount);
/** Per version: when its SET was seen acknowledged. Index 0 is the preload. */
let writeEnd = new Float64Array(1 << 20);
let version = 0;
let misses = 0;
let errors = 0;
// xorshift32 below yields 1 .. 2^32-1; a write when the draw falls under this threshold.
const writeBelow = Math.round(writeRatio * 2 ** 32);

const lane = async (seed: number): Promise<void> => {
  let x = (seed * 2654435761) | 1;
  // Closed loop; one clock read per op is both the end of one op and the start of the next.
  let t0 = performance.now();
  for (;;) {
    const phase = current;
    if (phase === null) return;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const write = x >>> 0 < writeBelow;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const i = (x >>> 0) % keyCount;
    const key = keys[i]!;
    let v = 0;
    try {
      if (write) {
        v = ++version;
        lastWriteStart[i] = t0;
        await cluster.set(key, valueFor(key, v));
      } else if ((await cluster.get(key)) === null) misses++;
    } catch {
      errors++;
    }
    const t1 = performance.now();
    phase.add(t1 - t0);
    if (v !== 0) {
      if (v >= writeEnd.length) {
        const bigger = new Float64Array(writeEnd.length * 2);
        bigger.set(writeEnd);
        writeEnd = bigger;
      }
      writeEnd[v] = t1;
    }
    t0 = t1;
  }
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
phases.before.startedAt = performance.now();
const lanes = Promise.all(Array.from({ length: laneCount }, (_, i) => lane(i + 1)));
await sleep(settleMs);

const tCall = performance.now();
phases.before.endedAt = tCall;
phases.during.startedAt = tCall;
current = phases.during;
const added = await cluster.addShard();
const tResolved = performance.now();
phases.during.endedAt = tResolved;
phases.after.startedAt = tResolved;
current = phases.after;
await sleep(settleMs);
phases.after.endedAt = performance.now();
current = null;
await lanes;

// ---- verify -----------------------------------------------------------------------------------
let lost = 0;
let stale = 0;
let corrupt = 0;
for (let i = 0; i < keyCount; i += 1000) {
  const chunk = keys.slice(i, i + 1000);
  const got = await cluster.mget(chunk);
  for (let j = 0; j < chunk.length; j++) {
    const key = chunk[j]!;
    const value = got[j];
    if (value === null || value === undefined) {
      lost++;
      continue;
    }
    const s = typeof value === 'string' ? value : value.toString('latin1');
    const end = s.indexOf(':', key.length + 1);
    const v = Number(s.slice(key.length + 1, end));
    if (!s.startsWith(`${key}:`) || end < 0 || !Number.isSafeInteger(v) || v > version) {
      corrupt++;
      continue;
    }
    // The value's write (or the preload) was acknowledged before the last SET on the key began.
    const ack = v === 0 ? tPreloaded : writeEnd[v]!;
    if (ack < lastWriteStart[i + j]!) stale++;
  }
}
const dbsize = await cluster.dbsize();
const perShard = (await cluster.stats()).shards.map((s) => `${s.name} ${(s.stats?.keys ?? 0).toLocaleString('en')}`);
await cluster.close();

// ---- report -----------------------------------------------------------------------------------
const round1 = (x: number): number => Math.round(x * 10) / 10;
const before = phases.before.summary();
const during = phases.during.summary();
const after = phases.after.summary();
const result = {
  keys: keyCount,
  moved,
  ranges,
  migration_ms: round1(migDone - migStart),
  add_call_ms: round1(tResolved - tCall),
  phases: { before, during, after },
  p99_ratio: before.p99_us > 0 ? Math.round((during.p99_us / before.p99_us) * 100) / 100 : 0,
  lost,
  stale,
  corrupt,
  misses,
  errors,
  dbsize,
};

const pad = (s: string | number, w: number): string => String(s).padStart(w);
const n = (x: number): string => x.toLocaleString('en');
log(
  `${'phase'.padEnd(7)} ${pad('ms', 8)} ${pad('ops', 10)} ${pad('ops/s', 10)} ${pad('p50 µs', 8)} ${pad('p99 µs', 8)} ${pad('max µs', 9)}`,
);
for (const [name, p] of Object.entries(phases)) {
  const s = result.phases[name as keyof typeof phases];
  log(
    `${name.padEnd(7)} ${pad(n(Math.round(p.endedAt - p.startedAt)), 8)} ${pad(n(s.ops), 10)} ${pad(n(s.ops_per_sec), 10)} ` +
      `${pad(n(s.p50_us), 8)} ${pad(n(s.p99_us), 8)} ${pad(n(s.max_us), 9)}`,
  );
}
log(
  `migration to ${added.name}: ${n(moved)} keys moved (${((moved / keyCount) * 100).toFixed(1)}%) in ${n(ranges)} ranges; ` +
    `'start'→'done' ${n(result.migration_ms)} ms, addShard() call→resolve ${n(result.add_call_ms)} ms`,
);
log(`p99 during / before: ${result.p99_ratio}×`);
log(`keys per shard after: ${perShard.join(', ')} (dbsize ${n(dbsize)})`);
log(
  `verify: ${n(keyCount)} keys read back — lost ${lost}, stale ${stale}, corrupt ${corrupt}; ` +
    `GET misses during the load ${misses}, op errors ${errors}`,
);
if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
if (lost + stale + corrupt + misses + errors > 0 || dbsize !== keyCount) process.exitCode = 1;
