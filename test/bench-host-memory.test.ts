// bench:host, bench:memory and bench:embedded's worker-thread target run end to end at tiny sizes
// from dist/: their --json lines have the promised shape and every figure is a positive number.
// Never a timing assert: the figures' values are the benches' business.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { hasRedis } from './helpers/redis.js';

const bench = (name: string): string => fileURLToPath(new URL(`../bench/${name}.js`, import.meta.url));

/** Runs a bench script with `args`; its last stdout line, parsed. */
function lastJson(script: string, args: string[]): { results: Record<string, unknown>[] } {
  const out = execFileSync(process.execPath, [bench(script), ...args, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').pop()!) as { results: Record<string, unknown>[] };
}

const positive = (t: Test, row: Record<string, unknown>, fields: string[]): void => {
  for (const f of fields) t.ok(typeof row[f] === 'number' && (row[f] as number) > 0, `${row.target} ${f} = ${row[f]} is a positive number`);
};

t.test('bench:host --json: one row per target, in order, with every figure', async (t) => {
  const { results } = lastJson('host', ['--keys', '2000', '--seconds', '0.3', '--rounds', '1']);
  t.same(
    results.map((r) => r.target),
    ['shardcache', 'lru-cache'],
  );
  for (const r of results) {
    positive(t, r, ['ops_per_sec', 'loop_p99_ms', 'loop_max_ms', 'main_heap_mb', 'rss_mb']);
    t.ok(
      typeof r.gc_share_main === 'number' && r.gc_share_main >= 0 && r.gc_share_main < 1,
      `${r.target} GC share ${r.gc_share_main} is a fraction`,
    );
    t.ok((r.loop_max_ms as number) >= (r.loop_p99_ms as number), 'loop max ≥ p99');
    t.equal(r.get_misses, 0, `${r.target}: every GET found its preloaded key`);
  }
});

t.test('bench:host refuses a bad flag before any work, naming it', async (t) => {
  const res = spawnSync(process.execPath, [bench('host'), '--keys', '2000', '--set-ratio', '1.5', '--rounds', '1'], { encoding: 'utf8' });
  t.not(res.status, 0);
  t.match(res.stderr, /--set-ratio must be a number from 0 to 1/);
});

t.test('bench:memory --json: RSS per key of each target', async (t) => {
  const targets = hasRedis ? ['shardcache', 'redis'] : ['shardcache'];
  const { results } = lastJson('memory', ['--keys', '20000', '--rounds', '1', '--targets', targets.join(',')]);
  t.same(
    results.map((r) => [r.target, r.keys]),
    targets.map((name) => [name, 20000]),
    'every key stored, one row per target',
  );
  for (const r of results) {
    positive(t, r, ['rss_bytes', 'bytes_per_key']);
    t.equal(r.bytes_per_key, Math.round((r.rss_bytes as number) / 20000), 'bytes per key = RSS growth ÷ keys');
  }
});

t.test('bench:embedded drives a target inside a worker thread and reports the ratio to lru-cache', async (t) => {
  const { results } = lastJson('embedded', [
    '--seconds',
    '0.1',
    '--rounds',
    '1',
    '--keys',
    '2000',
    '--inflight',
    '1,16',
    '--workloads',
    'get',
    '--targets',
    'lru-cache,lru-cache-thread',
  ]);
  t.same(
    results.map((r) => [r.target, r.inflight]),
    [
      ['lru-cache', 1],
      ['lru-cache-thread', 1],
      ['lru-cache', 16],
      ['lru-cache-thread', 16],
    ],
  );
  for (const r of results) {
    positive(t, r, ['ops_per_sec', 'main_us_per_op', 'ratio_to_lru']);
    if (r.target === 'lru-cache') t.equal(r.ratio_to_lru, 1);
  }
});
