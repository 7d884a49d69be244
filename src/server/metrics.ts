// /metrics: the cluster (and its RESP front end, when there is one) in Prometheus text format,
// through prom-client. Shard figures are read from the shards at scrape time — the same
// cluster.stats() INFO reads, so the two agree — and dispatch is observed per answered batch
// (a round-trip histogram and a batch-size histogram), never per request.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type Cluster, type ClusterStats, observeDispatch } from '../cluster.js';
import type { AuthFailures } from './auth.js';
import { commandNames, type ServerContext } from './resp/commands.js';

/**
 * A registry for `cluster`; with `resp`, its command counts and clients too. Failed
 * authentications are read from `authFailures` (by default the RESP server's), whichever surface
 * recorded them: give the REST API the same AuthFailures to have its failures counted here.
 */
export function createMetrics(
  cluster: Cluster,
  resp?: ServerContext,
  authFailures: AuthFailures | undefined = resp?.authFailures,
): Registry {
  const registry = new Registry();
  // One cluster.stats() per scrape, shared by every collector of that scrape.
  let scrape: Promise<ClusterStats> | null = null;
  const stats = (): Promise<ClusterStats> => {
    scrape ??= cluster.stats().finally(() => {
      setImmediate(() => {
        scrape = null;
      });
    });
    return scrape;
  };
  type ShardFigure = (s: ClusterStats['shards'][number]) => number | undefined;
  // A per-shard metric's collect: its value for every shard that can answer, read at scrape time.
  const perShard = (pick: ShardFigure) =>
    async function collect(this: Counter<'shard'> | Gauge<'shard'>): Promise<void> {
      const st = await stats();
      this.reset();
      for (const s of st.shards) {
        const v = pick(s);
        if (v === undefined) continue;
        if (this instanceof Counter) this.inc({ shard: s.name }, v);
        else this.set({ shard: s.name }, v);
      }
    };
  const shardCounter = (name: string, help: string, pick: ShardFigure): void => {
    new Counter({ name, help, labelNames: ['shard'], registers: [registry], collect: perShard(pick) });
  };
  const shardGauge = (name: string, help: string, pick: ShardFigure): void => {
    new Gauge({ name, help, labelNames: ['shard'], registers: [registry], collect: perShard(pick) });
  };

  shardGauge('shardcache_keys', 'Keys held by each shard.', (s) => s.stats?.keys);
  shardGauge('shardcache_memory_bytes', 'Estimated bytes held by each shard (keys, values, per-entry overhead).', (s) => s.stats?.bytes);
  shardGauge('shardcache_maxmemory_bytes', "Each shard's memory limit (0 = none).", (s) => s.stats?.maxBytes);
  shardGauge('shardcache_shard_up', '1 while the shard serves, 0 otherwise.', (s) => (s.state === 'ready' ? 1 : 0));
  shardGauge('shardcache_dispatch_queue_depth', 'Ops queued for or in flight to each shard.', (s) => s.pending);
  shardCounter('shardcache_keyspace_hits_total', 'Reads that found their key.', (s) => s.stats?.hits);
  shardCounter('shardcache_keyspace_misses_total', 'Reads that did not.', (s) => s.stats?.misses);
  shardCounter('shardcache_evicted_keys_total', 'Keys evicted under maxmemory.', (s) => s.stats?.evictions);
  shardCounter('shardcache_expired_keys_total', 'Keys removed because their TTL passed.', (s) => s.stats?.expired);
  shardCounter('shardcache_shard_ops_total', 'Ops each shard applied.', (s) => s.stats?.ops);
  shardCounter('shardcache_shard_crashes_total', "Times each shard's worker died.", (s) => s.crashes);
  shardCounter('shardcache_dispatch_batches_total', 'Batches posted to each shard.', (s) => s.batches);
  shardCounter('shardcache_dispatch_batched_ops_total', 'Ops those batches carried (÷ batches: mean batch size).', (s) => s.batchedOps);

  const epoch: Gauge = new Gauge({
    name: 'shardcache_epoch',
    help: 'The ring epoch (it changes with membership).',
    registers: [registry],
    collect: () => {
      epoch.set(cluster.epoch);
    },
  });
  const migrations = new Counter({
    name: 'shardcache_migrations_total',
    help: 'Membership changes whose data movement finished, by kind (add, remove, refill).',
    labelNames: ['kind'],
    registers: [registry],
  });
  cluster.on('migration', (e) => {
    if (e.phase === 'done') migrations.inc({ kind: e.kind });
  });
  const rtt = new Histogram({
    name: 'shardcache_dispatch_seconds',
    help: 'Round trip of a batch of ops to a shard and back.',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const size = new Histogram({
    name: 'shardcache_dispatch_batch_ops',
    help: 'Ops per batch posted to a shard.',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [registry],
  });
  observeDispatch(cluster, (seconds, ops) => {
    rtt.observe(seconds);
    size.observe(ops);
  });

  if (authFailures !== undefined) {
    const failures: Counter<'surface'> = new Counter({
      name: 'shardcache_auth_failures_total',
      help: 'Failed authentications (wrong password), by surface (resp, rest).',
      labelNames: ['surface'],
      registers: [registry],
      collect: () => {
        failures.reset();
        for (const [surface, n] of authFailures.counts()) failures.inc({ surface }, n);
      },
    });
  }

  if (resp !== undefined) {
    const commands: Counter<'command'> = new Counter({
      name: 'shardcache_commands_total',
      help: 'Redis-protocol commands run, by command.',
      labelNames: ['command'],
      registers: [registry],
      collect: () => {
        commands.reset();
        resp.stats.calls.forEach((calls, id) => {
          if (calls > 0) commands.inc({ command: commandNames[id]! }, calls);
        });
      },
    });
    const clients: Gauge = new Gauge({
      name: 'shardcache_connected_clients',
      help: 'Redis-protocol connections open.',
      registers: [registry],
      collect: () => {
        clients.set(resp.sessions.size);
      },
    });
    const connections: Counter = new Counter({
      name: 'shardcache_connections_received_total',
      help: 'Redis-protocol connections accepted.',
      registers: [registry],
      collect: () => {
        connections.reset();
        connections.inc(resp.stats.connections);
      },
    });
  }
  return registry;
}
