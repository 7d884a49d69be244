// bench:rebalance runs end to end at a tiny size: its --json line has the promised shape, the
// migration moved keys, and nothing was lost.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('../bench/rebalance.js', import.meta.url));

t.test('bench:rebalance --json', async (t) => {
  const out = execFileSync(process.execPath, [script, '--keys', '20000', '--settle', '0.2', '--lanes', '8', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const last = out.trim().split('\n').pop()!;
  const r = JSON.parse(last) as Record<string, unknown> & { phases: Record<string, Record<string, number>> };
  t.match(r, {
    keys: 20000,
    moved: Number,
    migration_ms: Number,
    add_call_ms: Number,
    phases: { before: Object, during: Object, after: Object },
    p99_ratio: Number,
    lost: Number,
  });
  t.same(Object.keys(r.phases).sort(), ['after', 'before', 'during']);
  for (const [name, p] of Object.entries(r.phases)) {
    t.match(p, { ops_per_sec: Number, p50_us: Number, p99_us: Number, max_us: Number }, `${name} figures`);
    t.ok(p.ops_per_sec! > 0, `${name} did work`);
    t.ok(p.p50_us! <= p.p99_us! && p.p99_us! <= p.max_us!, `${name}: p50 ≤ p99 ≤ max`);
  }
  t.ok((r.moved as number) > 0, 'the new shard received keys');
  t.ok((r.add_call_ms as number) >= (r.migration_ms as number), 'the addShard() call spans the migration');
  t.equal(r.lost, 0, 'no preloaded key lost');
  t.equal(r.stale, 0, 'no acknowledged write lost');
  t.equal(r.misses, 0, 'no GET missed during the move');
  t.equal(r.errors, 0, 'no op failed');
});
