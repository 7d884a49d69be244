// bench:embedded runs end to end at a tiny size and its --json line has the promised shape.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('../bench/embedded.js', import.meta.url));

t.test('bench:embedded --json', async (t) => {
  const out = execFileSync(
    process.execPath,
    [
      script,
      '--json',
      '--seconds',
      '0.1',
      '--rounds',
      '1',
      '--keys',
      '2000',
      '--inflight',
      '16,128',
      '--targets',
      'cluster,async-map,lru-cache',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const last = out.trim().split('\n').pop()!;
  const { results } = JSON.parse(last) as { results: Record<string, unknown>[] };
  t.equal(results.length, 3 * 2 * 2, 'targets × workloads × in-flight levels');
  for (const r of results) {
    t.match(r, {
      target: /^(cluster|async-map|lru-cache)$/,
      workload: /^(get|get-set)$/,
      inflight: Number,
      ops_per_sec: Number,
      p50_us: Number,
      p99_us: Number,
    });
    t.ok((r.ops_per_sec as number) > 0, `${r.target} ${r.workload} ${r.inflight} did work`);
    t.ok((r.p99_us as number) >= (r.p50_us as number), 'p99 ≥ p50');
  }
});
