// GET /metrics in Prometheus text format, scraped and parsed: command counts, per-shard figures
// that agree with INFO, dispatch histograms, migrations and crashes.
import t from 'tap';
import { createMetrics } from '../src/server/metrics.js';
import { createRestServer, listen } from '../src/server/rest.js';
import type { Cluster } from '../src/index.js';
import { serveRest, startCluster, type Teardown } from './helpers/cluster.js';
import { Raw, startResp } from './helpers/resp.js';

type Samples = Map<string, number>;

/** Prometheus text → `name{labels}` → value. */
function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The sum of a metric over all its label sets. */
function sum(s: Samples, name: string): number {
  let total = 0;
  for (const [k, v] of s) if (k === name || k.startsWith(`${name}{`)) total += v;
  return total;
}

async function scrape(base: string): Promise<{ type: string | null; samples: Samples }> {
  const res = await fetch(`${base}/metrics`);
  return { type: res.headers.get('content-type'), samples: parse(await res.text()) };
}

async function serveWithMetrics(t: Teardown, cluster: Cluster) {
  const resp = await startResp(t, cluster);
  const rest = createRestServer(cluster, { metrics: createMetrics(cluster, resp.context) });
  const { port } = await listen(rest, 0, '127.0.0.1');
  t.teardown(() => {
    rest.closeAllConnections();
    rest.close();
  });
  return { base: `http://127.0.0.1:${port}`, resp: resp.context.port };
}

t.test('command counts, shard figures that agree with INFO, dispatch', async (t) => {
  const cluster = await startCluster(t);
  const { base, resp } = await serveWithMetrics(t, cluster);
  const r = new Raw(resp);
  t.teardown(() => r.end());
  r.send('SET a 1\r\nGET a\r\nGET nope\r\nINCR n\r\nMSET x 1 y 2\r\nDEL x\r\nSET t v PX 1\r\n');
  await r.expect('+OK\r\n$1\r\n1\r\n$-1\r\n:1\r\n+OK\r\n:1\r\n+OK\r\n');
  const { type, samples } = await scrape(base);
  t.match(type, /^text\/plain; version=0\.0\.4/);
  t.equal(samples.get('shardcache_commands_total{command="set"}'), 2);
  t.equal(samples.get('shardcache_commands_total{command="get"}'), 2);
  t.equal(samples.get('shardcache_commands_total{command="mset"}'), 1);
  t.equal(samples.get('shardcache_connected_clients'), 1);
  t.equal(sum(samples, 'shardcache_shard_up'), 3);
  t.ok((samples.get('shardcache_dispatch_seconds_count') ?? 0) > 0, 'batch round trips observed');
  t.equal(samples.get('shardcache_dispatch_batch_ops_count'), samples.get('shardcache_dispatch_seconds_count'));
  t.ok(sum(samples, 'shardcache_dispatch_batches_total') >= (samples.get('shardcache_dispatch_seconds_count') ?? 0));
  // No traffic between the scrape and INFO: the same figures.
  r.send('INFO\r\n');
  const info = await r.bulk();
  const field = (name: string): number => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1]);
  t.equal(sum(samples, 'shardcache_keyspace_hits_total'), field('keyspace_hits'), 'hits');
  t.equal(sum(samples, 'shardcache_keyspace_misses_total'), field('keyspace_misses'), 'misses');
  t.equal(sum(samples, 'shardcache_expired_keys_total'), field('expired_keys'), 'expired');
  t.equal(sum(samples, 'shardcache_evicted_keys_total'), field('evicted_keys'), 'evicted');
  t.equal(sum(samples, 'shardcache_keys'), Number(/db0:keys=(\d+)/.exec(info)?.[1]), 'keys');
  t.equal(sum(samples, 'shardcache_memory_bytes'), field('used_memory'), 'bytes');
  r.send('INFO commandstats\r\n');
  t.match(await r.bulk(), /cmdstat_set:calls=2\r\n/);
});

t.test('migrations and crashes are counted; without a RESP port the cluster alone', async (t) => {
  const cluster = await startCluster(t, { shards: 2, faultInjection: true });
  const base = await serveRest(t, cluster);
  await cluster.set('k', 'v');
  await cluster.addShard();
  const rejoined = new Promise<void>((resolve) => cluster.on('join', (e) => e.restart && resolve()));
  cluster.injectFault(1, 'exit');
  await rejoined;
  const { samples } = await scrape(base);
  t.equal(samples.get('shardcache_migrations_total{kind="add"}'), 1);
  t.equal(samples.get('shardcache_shard_crashes_total{shard="node-1"}'), 1);
  t.equal(samples.get('shardcache_epoch'), cluster.epoch);
  t.equal(sum(samples, 'shardcache_shard_up'), 3);
  t.equal(samples.get('shardcache_commands_total{command="set"}'), undefined, 'no RESP figures');
  t.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
});
