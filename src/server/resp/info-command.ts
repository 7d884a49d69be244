// INFO: the sections Redis prints (server, clients, memory, persistence, stats, replication,
// keyspace, commandstats) and shardcache's shards, from the cluster's stats and the server's
// counters. It only reads.
import { leaderOf } from '../../replication/leader.js';
import { NAME, VERSION } from '../../version.js';
import { text } from '../../resp/reply-encoder.js';
import { REDIS_COMPAT_VERSION } from './connection-commands.js';
import { replicationInfo } from './replication-commands.js';
import { commandNames, def, NONE, run } from './registry.js';

def('info', -1, ['slow', 'loading', 'stale'], NONE, (ctx, s, a) => {
  const resp3 = s.resp3;
  return run(ctx.cluster.stats(), (st) => {
    const wanted = new Set(a.slice(1).map((b) => b.toString().toLowerCase()));
    const syncs = leaderOf(ctx.cluster, ctx.backlogBytes).stats;
    const all = wanted.size === 0 || wanted.has('all') || wanted.has('everything') || wanted.has('default');
    const sections: [string, string[]][] = [
      [
        'server',
        [
          `redis_version:${REDIS_COMPAT_VERSION}`,
          `shardcache_version:${VERSION}`,
          'redis_mode:standalone',
          `process_id:${process.pid}`,
          `tcp_port:${ctx.port}`,
          `uptime_in_seconds:${Math.floor((Date.now() - ctx.startedAt) / 1000)}`,
          `executable:${NAME}`,
        ],
      ],
      ['clients', [`connected_clients:${ctx.sessions.size}`, `rejected_connections:${ctx.stats.rejected}`]],
      [
        'memory',
        [`used_memory:${st.totals.bytes}`, `maxmemory:${st.totals.maxBytes}`, `maxmemory_policy:${ctx.cluster.options.evictionPolicy}`],
      ],
      ['persistence', ['loading:0']],
      [
        'stats',
        [
          `total_connections_received:${ctx.stats.connections}`,
          `total_commands_processed:${ctx.stats.commands}`,
          `keyspace_hits:${st.totals.hits}`,
          `keyspace_misses:${st.totals.misses}`,
          `evicted_keys:${st.totals.evictions}`,
          `expired_keys:${st.totals.expired}`,
          `sync_full:${syncs.fullSyncs}`,
          `sync_partial_ok:${syncs.partialOk}`,
          `sync_partial_err:${syncs.partialErr}`,
          `acl_access_denied_auth:${ctx.authFailures.count('resp')}`,
          `client_output_buffer_limit_disconnections:${ctx.stats.outputLimitClosed}`,
          `cross_protocol_requests_refused:${ctx.stats.crossProtocol}`,
        ],
      ],
      ['replication', replicationInfo(ctx)],
      ['keyspace', st.totals.keys === 0 ? [] : [`db0:keys=${st.totals.keys},expires=${st.totals.volatileKeys},avg_ttl=0`]],
      ['commandstats', ctx.stats.calls.flatMap((calls, id) => (calls === 0 ? [] : [`cmdstat_${commandNames[id]}:calls=${calls}`]))],
      [
        'shards',
        [
          `shards:${st.shards.length}`,
          `epoch:${st.epoch}`,
          ...st.shards.map(
            (x) => `${x.name}:state=${x.state},keys=${x.stats?.keys ?? 0},bytes=${x.stats?.bytes ?? 0},crashes=${x.crashes}`,
          ),
        ],
      ],
    ];
    const body = sections
      // commandstats only when asked for, as in Redis (not in the default set).
      .filter(([name]) =>
        name === 'commandstats' ? wanted.has(name) || wanted.has('all') || wanted.has('everything') : all || wanted.has(name),
      )
      .map(([name, lines]) => `# ${name[0]!.toUpperCase()}${name.slice(1)}\r\n${lines.map((l) => `${l}\r\n`).join('')}`)
      .join('\r\n');
    return text(body, resp3);
  });
});
