// bench:host — what holding a big data set costs a host app's main thread: 5M keys × 100 B distinct
// values, 64 closed-loop lanes of 20% SET / 80% GET, shardcache (an embedded cluster, default shards)
// against an in-process lru-cache, each in a process of its own (bench/host-child.ts), the targets
// alternating round by round (A B A B) and the median of each figure reported. Never asserts.
//
//   npm run bench:host -- [--keys 5000000] [--seconds 10] [--lanes 64] [--set-ratio 0.2] [--value-size 100]
//                         [--targets shardcache,lru-cache] [--rounds 3] [--watchdog-timeout 1500] [--timeout 3600] [--json]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../src/bench/compare.js';
import { giveUpAfter, reportLines, requirePositiveInts } from './common.js';
import type { HostFigures } from './host-child.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '5000000' },
    seconds: { type: 'string', default: '10' },
    lanes: { type: 'string', default: '64' },
    'set-ratio': { type: 'string', default: '0.2' },
    'value-size': { type: 'string', default: '100' },
    'watchdog-timeout': { type: 'string', default: '1500' },
    targets: { type: 'string', default: 'shardcache,lru-cache' },
    rounds: { type: 'string', default: '3' },
    timeout: { type: 'string', default: '3600' },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Number(args.rounds);
const timeout = Number(args.timeout);
requirePositiveInts({ rounds, timeout });
giveUpAfter('bench:host', timeout);
const log = reportLines(args.json);
const targets = args.targets.split(',');
const CHILD = fileURLToPath(new URL('./host-child.js', import.meta.url));
// The child checks the workload flags itself (and fails before any work on a bad one).
const FORWARDED = ['keys', 'seconds', 'lanes', 'set-ratio', 'value-size', 'watchdog-timeout'] as const;
const childFlags = FORWARDED.flatMap((f) => [`--${f}`, args[f]]);

log(
  `bench:host — ${Number(args.keys).toLocaleString('en')} keys × ${args['value-size']} B distinct values, ${args.lanes} lanes ` +
    `(${Number(args['set-ratio']) * 100}% SET), ${args.seconds} s measured after the preload and a forced GC; ` +
    `each target in its own process, ${rounds} round(s) A B A B, medians`,
);
const runs = new Map<string, HostFigures[]>(targets.map((t) => [t, []]));
for (let r = 0; r < rounds; r++) {
  for (const target of targets) {
    // Old space big enough for lru-cache's entries in the main heap (~1 GB at 5M × 100 B).
    const res = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', CHILD, '--target', target, ...childFlags], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (res.status !== 0) throw new Error(`bench:host child for ${target} failed (exit ${res.status ?? res.signal})`);
    const f = JSON.parse(res.stdout.trim().split('\n').pop()!) as HostFigures;
    log(
      `  round ${r + 1} ${target}: preload ${f.preload_s} s, ${f.ops_per_sec.toLocaleString('en')} ops/s, loop p99 ${f.loop_p99_ms} ms, ` +
        `GC ${(f.gc_share_main * 100).toFixed(1)}%`,
    );
    runs.get(target)!.push(f);
  }
}

const FIELDS = ['ops_per_sec', 'loop_p99_ms', 'loop_max_ms', 'gc_share_main', 'main_heap_mb', 'rss_mb', 'preload_s', 'get_misses'] as const;
const results: HostFigures[] = targets.map((target) => {
  const all = runs.get(target)!;
  const m = Object.fromEntries(FIELDS.map((k) => [k, median(all.map((f) => f[k]))])) as Omit<HostFigures, 'target'>;
  return { target, ...m, get_misses: Math.max(...all.map((f) => f.get_misses)) };
});

const pad = (s: string | number, w: number): string => String(s).padStart(w);
log(
  `${'target'.padEnd(10)} ${pad('ops/s', 10)} ${pad('loop p99 ms', 11)} ${pad('loop max ms', 11)} ${pad('GC main', 7)} ${pad('heap MB', 8)} ${pad('RSS MB', 8)} ${pad('preload s', 9)}`,
);
for (const r of results) {
  log(
    `${r.target.padEnd(10)} ${pad(r.ops_per_sec.toLocaleString('en'), 10)} ${pad(r.loop_p99_ms, 11)} ${pad(r.loop_max_ms, 11)} ` +
      `${pad(`${(r.gc_share_main * 100).toFixed(1)}%`, 7)} ${pad(r.main_heap_mb, 8)} ${pad(r.rss_mb, 8)} ${pad(r.preload_s, 9)}`,
  );
}
const a = results.find((r) => r.target === 'shardcache');
const b = results.find((r) => r.target === 'lru-cache');
if (a !== undefined && b !== undefined) {
  const x = (k: (typeof FIELDS)[number]): string => (b[k] === 0 ? '–' : `${(a[k] / b[k]).toFixed(2)}×`);
  log(
    `shardcache / lru-cache: ops/s ${x('ops_per_sec')}, loop p99 ${x('loop_p99_ms')}, loop max ${x('loop_max_ms')}, ` +
      `GC share ${x('gc_share_main')}, main heap ${x('main_heap_mb')}, RSS ${x('rss_mb')}`,
  );
}
if (results.some((r) => r.get_misses > 0)) log('WARNING: GETs missed preloaded keys (get_misses > 0): a target lost data');
if (args.json) process.stdout.write(`${JSON.stringify({ results })}\n`);
process.exit(0);
