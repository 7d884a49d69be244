// bench:embedded — the embedded cluster against what a Node app would use instead: an in-process
// async Map, lru-cache, and redis-server through ioredis (when redis-server is installed), plus
// targets driven from a worker thread (`lru-cache-thread`, and `cluster-thread`: the cluster attached
// in a second thread through a handle). Closed loop: N lanes each await one op
// at a time. Targets alternate within every round (A B C D, A B C D, ...) and the median round is
// reported, because this machine is noisy. Each target runs in a fresh process of its own.
//
//   npm run bench:embedded -- [--seconds 1] [--rounds 3] [--keys 100000] [--value-size 100]
//                             [--inflight 1,16,128,1024] [--targets cluster,cluster-thread,async-map,lru-cache,redis] [--json]
//                             [--workloads get,get-set] [--shards N] [--batch-ops N] [--batches-in-flight N]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { reportLines } from './common.js';
import {
  attachedSetup,
  asyncMapTarget,
  clusterTarget,
  type LanePlan,
  lruTarget,
  type Result,
  redisTarget,
  runPlan,
  type Target,
} from './embedded-targets.js';
import { runInThread, type ThreadTargetSpec } from './thread-target.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    keys: { type: 'string', default: '100000' },
    'value-size': { type: 'string', default: '100' },
    inflight: { type: 'string', default: '1,16,128,1024' },
    targets: { type: 'string', default: 'cluster,cluster-thread,async-map,lru-cache,redis' },
    workloads: { type: 'string', default: 'get,get-set' },
    json: { type: 'boolean', default: false },
    shards: { type: 'string' },
    'batch-ops': { type: 'string' },
    'batches-in-flight': { type: 'string' },
    child: { type: 'string' },
  },
});

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const plan: LanePlan = {
  seconds: Number(args.seconds),
  keyCount: Number(args.keys),
  valueSize: Number(args['value-size']),
  workloads: args.workloads.split(','),
  inflights: args.inflight.split(',').map(Number),
  shards: num(args.shards),
  batchOps: num(args['batch-ops']),
  batchesInFlight: num(args['batches-in-flight']),
};
const rounds = Number(args.rounds);
const wanted = args.targets.split(',');
for (const [name, n] of [
  ['seconds', plan.seconds],
  ['rounds', rounds],
  ['keys', plan.keyCount],
  ['value-size', plan.valueSize],
  ...plan.inflights.map((n) => ['inflight', n] as const),
] as const) {
  if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
}
const log = reportLines(args.json);

/**
 * Every target, by name: one built in the bench process's main thread, or one a worker thread
 * builds and drives (module + export of a TargetFactory). A new target is one more entry.
 */
type Entry = { make: () => Promise<Target | null> } | { thread: ThreadTargetSpec };
const TARGETS: URL = new URL('./embedded-targets.js', import.meta.url);
const entries: Record<string, Entry> = {
  cluster: { make: () => clusterTarget(plan) },
  'async-map': { make: async () => asyncMapTarget() },
  'lru-cache': { make: async () => lruTarget(plan) },
  redis: { make: () => redisTarget(log) },
  'lru-cache-thread': { thread: { module: TARGETS.href, exportName: 'lruTarget' } },
  'cluster-thread': { thread: { module: TARGETS.href, exportName: 'attachedTarget', setup: attachedSetup } },
};

/** Child mode: one target, every workload × in-flight level once; prints its rows as JSON (null: target unavailable). */
async function child(name: string): Promise<void> {
  const entry = entries[name]!;
  if ('thread' in entry) {
    process.stdout.write(`${JSON.stringify(await runInThread(name, entry.thread, plan))}\n`);
    return;
  }
  const target = await entry.make();
  process.stdout.write(`${JSON.stringify(target === null ? null : await runPlan(name, target, plan))}\n`);
}

if (args.child !== undefined) {
  await child(args.child);
  process.exit(0);
}

for (const name of wanted) {
  if (entries[name] === undefined) throw new Error(`unknown target ${name}; known: ${Object.keys(entries).join(', ')}`);
}
log(
  `bench:embedded — ${plan.keyCount} keys, ${plan.valueSize} B values, ${plan.seconds} s per run, ${rounds} rounds (median shown); ` +
    'each target runs in its own process (no shared heap or GC), targets alternate within each round',
);

function median<T>(xs: T[], by: (x: T) => number): T {
  return [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)]!;
}

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
for (const workload of plan.workloads) {
  for (const inflight of plan.inflights) {
    for (const name of wanted) {
      const all = runs.get(`${name}|${workload}|${inflight}`);
      if (all !== undefined) results.push(median(all, (x) => x.ops_per_sec));
    }
  }
}

/** ops/s of `r` ÷ that of `base` at the same workload and in-flight level, or undefined without that base. */
function ratioTo(r: Result, base: string): number | undefined {
  const b = results.find((x) => x.target === base && x.workload === r.workload && x.inflight === r.inflight);
  return b === undefined ? undefined : Number((r.ops_per_sec / b.ops_per_sec).toPrecision(3));
}
for (const r of results) {
  const lru = ratioTo(r, 'lru-cache');
  if (lru !== undefined) r.ratio_to_lru = lru;
}

const pad = (s: string | number, w: number): string => String(s).padStart(w);
const w = Math.max(10, ...wanted.map((n) => n.length));
log(
  `${'target'.padEnd(w)} ${'workload'.padEnd(8)} ${pad('inflight', 8)} ${pad('ops/s', 10)} ${pad('p50 µs', 8)} ${pad('p99 µs', 8)} ${pad('main µs/op', 10)} ${pad('× map', 6)} ${pad('× lru', 6)}`,
);
for (const r of results) {
  const map = ratioTo(r, 'async-map');
  log(
    `${r.target.padEnd(w)} ${r.workload.padEnd(8)} ${pad(r.inflight, 8)} ${pad(r.ops_per_sec.toLocaleString('en'), 10)} ${pad(r.p50_us, 8)} ${pad(r.p99_us, 8)} ${pad(r.main_us_per_op.toFixed(2), 10)} ${pad(map ?? '', 6)} ${pad(r.ratio_to_lru ?? '', 6)}`,
  );
}
if (args.json) process.stdout.write(`${JSON.stringify({ results })}\n`);
