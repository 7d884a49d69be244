// The replication commands of the RESP table: the leader side (REPLCONF, PSYNC, SYNC, WAIT, ROLE,
// INFO's replication section: src/replication/leader.ts) and REPLICAOF, which starts or stops this
// server's own link. Registered into the one table (registry.ts); never applies a leader's stream (apply.ts does).
import { leaderOf } from '../../replication/leader.js';
import { array, bulk, integer, OK, simple } from '../../resp/reply-encoder.js';
import { int64Arg, intArg, NOT_INTEGER, RespError, SYNTAX } from './command-args.js';
import { alias, def, NO_REPLY, NONE, run, type ServerContext, type Session } from './registry.js';

def('replconf', -1, ['admin', 'noscript', 'loading', 'stale'], NONE, (ctx, s, a) => {
  if (a.length % 2 === 0) throw new RespError(SYNTAX);
  for (let i = 1; i < a.length; i += 2) {
    const option = a[i]!.toString().toLowerCase();
    const value = a[i + 1]!.toString();
    s.hello ??= { listeningPort: 0, ipAddress: null, capa: new Set() };
    const hello = s.hello;
    switch (option) {
      case 'listening-port': {
        const port = intArg(a[i + 1]!);
        if (port < 0 || port > 65535) throw new RespError('ERR invalid listening-port');
        hello.listeningPort = port;
        break;
      }
      case 'ip-address':
        hello.ipAddress = value;
        break;
      case 'capa':
        hello.capa.add(value.toLowerCase());
        break;
      case 'ack':
        // An attached replica's acknowledgement: never answered.
        if (s.replica && s.socket !== null) leaderOf(ctx.cluster).ack(s.socket, Number(int64Arg(a[i + 1]!)));
        return NO_REPLY;
      case 'getack':
      case 'rdb-only':
      case 'rdb-filter-only':
        break;
      default:
        throw new RespError(`ERR Unrecognized REPLCONF option: ${a[i]!.toString()}`);
    }
  }
  return OK;
});

def('psync', -3, ['admin', 'noscript', 'stale'], NONE, (ctx, s, a) => {
  const offset = Number(a[2]!.toString());
  if (!Number.isSafeInteger(offset)) throw new RespError(NOT_INTEGER);
  return startSync(ctx, s, a[1]!.toString(), offset);
});
def('sync', 1, ['admin', 'noscript', 'stale'], NONE, (ctx, s) => startSync(ctx, s, null, -1));

def('wait', 3, ['noscript'], NONE, (ctx, _s, a) => {
  const want = intArg(a[1]!);
  const timeout = intArg(a[2]!);
  if (timeout < 0) throw new RespError('ERR timeout is negative');
  return run(leaderOf(ctx.cluster, ctx.backlogBytes).wait(want, timeout), integer);
});

def('replicaof', 3, ['admin', 'noscript', 'stale'], NONE, (ctx, _s, a) => {
  const host = a[1]!.toString();
  const portText = a[2]!.toString();
  if (host.toLowerCase() === 'no' && portText.toLowerCase() === 'one') {
    if (ctx.replicaOf !== null) ctx.unfollow();
    return OK;
  }
  const port = intArg(a[2]!);
  if (port < 1 || port > 65535) throw new RespError('ERR Invalid master port');
  const r = ctx.replicaOf;
  if (r !== null && r.host === host && r.port === port) return simple('OK Already connected to specified master');
  ctx.follow(host, port);
  return OK;
});
alias('slaveof', 'replicaof');

def('role', 1, ['noscript', 'loading', 'stale', 'fast'], NONE, (ctx) => {
  const r = ctx.replicaOf;
  if (r !== null) return array([bulk('slave'), bulk(r.host), integer(r.port), bulk(r.state), integer(Math.max(0, r.offset))]);
  const leader = leaderOf(ctx.cluster, ctx.backlogBytes);
  return array([
    bulk('master'),
    integer(leader.offset),
    array(leader.replicas().map((r) => array([bulk(r.ip), bulk(String(r.port)), bulk(String(r.offset))]))),
  ]);
});

/** PSYNC or SYNC (`replid` null): the connection becomes a replica link. */
function startSync(ctx: ServerContext, s: Session, replid: string | null, offset: number): Buffer {
  if (s.replica) throw new RespError('ERR this connection is already a replica');
  if (s.socket === null) throw new RespError('ERR only a connection can become a replica');
  const hello = s.hello ?? { listeningPort: 0, ipAddress: null, capa: new Set<string>() };
  let sync: { reply: Buffer; start: () => void };
  try {
    sync = leaderOf(ctx.cluster, ctx.backlogBytes).psync(s.socket, s.addr, hello, replid, offset, {
      limit: ctx.outputLimits.replica,
      onLimit: (which, bytes) =>
        ctx.log.warn(
          { event: 'client-output-buffer-limit', remote: s.addr, class: 'replica', limit: which, bytes },
          `replica ${s.addr} (class replica) closed: its output buffer (${bytes} bytes) passed the ${which} limit of client-output-buffer-limit`,
        ),
    });
  } catch (err) {
    throw new RespError((err as Error).message);
  }
  const { reply, start } = sync;
  s.replica = true;
  // The snapshot or the backlog follows the reply line on the socket, never before it.
  s.afterReplies(start);
  return reply;
}
/** INFO replication's lines. */
export function replicationInfo(ctx: ServerContext): string[] {
  const leader = leaderOf(ctx.cluster, ctx.backlogBytes);
  const replicas = leader.replicas();
  const r = ctx.replicaOf;
  return [
    ...(r === null ? ['role:master'] : ['role:slave', ...r.info()]),
    `connected_slaves:${replicas.length}`,
    ...replicas.map((r, i) => `slave${i}:ip=${r.ip},port=${r.port},state=${r.state},offset=${r.offset},lag=${r.lag}`),
    // A replica reports the history it follows, as Redis does.
    ...leader
      .infoFields()
      .map((l) =>
        r === null
          ? l
          : l.startsWith('master_replid:')
            ? `master_replid:${r.replid ?? '0'.repeat(40)}`
            : l.startsWith('master_repl_offset:')
              ? `master_repl_offset:${Math.max(0, r.offset)}`
              : l,
      ),
  ];
}
