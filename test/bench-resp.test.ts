// bench:resp runs end to end at a tiny size: its --json line has the promised shape — 4 tests at
// -P 16 and -P 1 when redis-benchmark and redis-server are installed, `{"results":[]}` when not.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('../bench/resp.js', import.meta.url));
const installed = ['redis-benchmark', 'redis-server'].every((bin) => {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
});

t.test('bench:resp --json', async (t) => {
  const out = execFileSync(process.execPath, [script, '--requests', '2000', '--pairs', '1', '--warmup', '2000', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  const last = out.trim().split('\n').pop()!;
  const r = JSON.parse(last) as { results: Record<string, unknown>[] };
  t.same(Object.keys(r), ['results']);
  t.ok(Array.isArray(r.results));
  if (!installed) {
    t.same(r.results, [], 'no redis-benchmark/redis-server: nothing measured');
    return;
  }
  t.equal(r.results.length, 8, '4 tests × 2 pipelines');
  t.same(
    r.results.map((x) => `${x.test} ${x.pipeline}`),
    ['set 16', 'get 16', 'incr 16', 'mset 16', 'set 1', 'get 1', 'incr 1', 'mset 1'],
  );
  for (const x of r.results) {
    const name = `${x.test} -P ${x.pipeline}`;
    t.match(x, { shardcache: Number, redis: Number, ratio: Number, shardcache_cpu_us: Number, redis_cpu_us: Number }, name);
    t.ok((x.shardcache as number) > 0 && (x.redis as number) > 0, `${name}: both did work`);
    t.ok((x.ratio as number) > 0, `${name}: ratio > 0`);
    t.ok((x.shardcache_cpu_us as number) >= 0 && (x.redis_cpu_us as number) >= 0, `${name}: CPU figures`);
  }
});
