// bench:keys runs end to end at a tiny size: its --json line has the promised shape, each command
// returned what it should, and no shard crashed.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('../bench/keys-walk.js', import.meta.url));

t.test('bench:keys --json', async (t) => {
  const out = execFileSync(process.execPath, [script, '--keys', '20000', '--scan-count', '5000', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as {
    keys: number;
    fill_crashes: number;
    crashes: string[];
    rows: { command: string; seconds: number; returned: number; loop_max_ms: number; crashes: number }[];
    probes: { pattern: string; keys: number; seconds: number; pings: number; max_ping_ms: number }[];
  };
  t.match(r, { keys: 20000, shards: 3, replicas: 1, watchdog_timeout_ms: 1500, fill_seconds: Number, fill_crashes: 0 });
  t.same(r.crashes, []);
  t.same(
    r.rows.map((row) => [row.command.split(' ')[0], row.returned, row.crashes]),
    [
      ['KEYS', 20000, 0],
      ['KEYS', 0, 0],
      ['KEYS', 1, 0],
      ['SCAN', 0, 0],
      ['DBSIZE', 20000, 0],
      ['FLUSHALL', 0, 0],
    ],
  );
  for (const row of r.rows) t.match(row, { seconds: Number, loop_max_ms: Number }, row.command);
  t.same(
    r.probes.map((p) => [p.pattern, p.keys]),
    [
      ['*', 6667],
      ['*a*a*a*a*a*a*a*a*a*a*a*a*b', 0],
    ],
    'one shard probed with its share of the keys',
  );
  for (const p of r.probes) t.match(p, { seconds: Number, pings: Number, max_ping_ms: Number }, p.pattern);
});
