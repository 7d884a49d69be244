// bench:replication runs end to end at a tiny size: its --json line has the promised shape —
// write throughput with 0, 1 and 2 replicas and lag percentiles, for shardcache and (when
// installed) redis-server.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { hasRedis } from './helpers/redis.js';

const script = fileURLToPath(new URL('../bench/replication.js', import.meta.url));

t.test('bench:replication --json', async (t) => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [script, '--duration', '1', '--pairs', '1', '--rate', '100', '--lag-seconds', '1', '--keys', '100', '--warmup', '0', '--json'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    rate: number;
    shardcache: {
      throughput: { replicas: number; opsPerSec: number; ratio: number }[];
      lag: { p50: number; p99: number; samples: number };
    };
    redis: unknown;
  };
  t.equal(r.rate, 100);
  t.same(
    r.shardcache.throughput.map((x) => x.replicas),
    [0, 1, 2],
  );
  for (const x of r.shardcache.throughput) t.ok(x.opsPerSec > 0 && x.ratio > 0, `${x.replicas} replicas: ${x.opsPerSec} writes/s`);
  t.equal(r.shardcache.throughput[0]!.ratio, 1);
  t.equal(r.shardcache.lag.samples, 100, 'every write of the lag run acknowledged by the replica');
  t.ok(r.shardcache.lag.p50 > 0 && r.shardcache.lag.p50 <= r.shardcache.lag.p99);
  if (hasRedis) t.match(r.redis, { throughput: [{ replicas: 0 }, { replicas: 1 }, { replicas: 2 }], lag: { samples: 100 } });
  else t.equal(r.redis, null);
});
