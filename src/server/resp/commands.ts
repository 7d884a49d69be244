// The RESP command table's handlers (connection, server, strings, keys; replication's come from
// replication-commands.ts, all into registry.ts's one table): each turns arguments into a reply
// through the cluster's public API. Handlers never touch shard data directly.
import { sendTo } from '../../cluster.js';
import { leaderOf } from '../../replication/leader.js';
import { keyArg } from '../../args.js';
import { checkPassword as samePassword } from '../auth.js';
import { Op } from '../../protocol.js';
import { NAME, VERSION } from '../../version.js';
import { compileGlob } from '../../glob.js';
import { int64Arg, intArg, NOT_INTEGER, RespError, replyError, SYNTAX, wireValue, word } from './command-args.js';
import { array, bulk, error, integer, map, nil, nilArray, OK, PONG, simple, text } from '../../resp/reply-encoder.js';
import {
  ALLKEYS,
  type CommandSpec,
  commandNames,
  commandTable as commands,
  def,
  type Handler,
  KEY1,
  NONE,
  type Reply,
  run,
  type ServerContext,
  type Session,
} from './registry.js';
import { registerReplicationCommands, replicationInfo } from './replication-commands.js';

// The table as its users see it: importing this module is what registers every command.
export { commandId, commandNames, commandSpec, NO_REPLY, type ServerContext, type Session } from './registry.js';

// ---- connection ------------------------------------------------------------------------------

def('ping', -1, ['fast', 'stale'], NONE, (_c, s, a) => {
  if (a.length > 2) throw new RespError("ERR wrong number of arguments for 'ping' command");
  return a.length === 2 ? bulk(a[1]!, s.resp3) : PONG;
});
def('echo', 2, ['fast'], NONE, (_c, s, a) => bulk(a[1]!, s.resp3));
def(
  'quit',
  -1,
  ['fast'],
  NONE,
  (_c, s) => {
    s.closing = true;
    return OK;
  },
  true,
);
def('select', 2, ['fast', 'loading', 'stale'], NONE, (_c, _s, a) => {
  const db = intArg(a[1]!);
  if (db !== 0) throw new RespError('ERR DB index is out of range');
  return OK;
});

/** AUTH's and HELLO AUTH's check: constant-time, a failure counted and (rate-limited) logged. */
function checkPassword(ctx: ServerContext, s: Session, user: Buffer, pass: Buffer): void {
  if (ctx.password === null) {
    throw new RespError(
      'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
  }
  // Both checks always run: the time taken tells nothing about which failed.
  const rightPass = samePassword(pass, ctx.password);
  if (user.toString() !== 'default' || !rightPass) {
    ctx.authFailures.record('resp', s.addr);
    throw new RespError('WRONGPASS invalid username-password pair or user is disabled.');
  }
}

const DEFAULT_USER = Buffer.from('default');

def(
  'auth',
  -2,
  ['fast', 'noscript', 'loading', 'stale'],
  NONE,
  (ctx, s, a) => {
    if (a.length > 3) throw new RespError(SYNTAX);
    checkPassword(ctx, s, a.length === 3 ? a[1]! : DEFAULT_USER, a[a.length - 1]!);
    s.authed = true;
    return OK;
  },
  true,
);

def(
  'hello',
  -1,
  ['fast', 'noscript', 'loading', 'stale'],
  NONE,
  (ctx, s, a) => {
    let proto = s.resp3 ? 3 : 2;
    let i = 1;
    if (a.length > 1) {
      const v = a[1]!.toString('latin1');
      const n = /^-?[0-9]+$/.test(v) ? Number(v) : Number.NaN;
      if (Number.isNaN(n)) throw new RespError('ERR Protocol version is not an integer or out of range');
      if (n !== 2 && n !== 3) throw new RespError('NOPROTO unsupported protocol version');
      proto = n;
      i = 2;
    }
    let name: string | null = null;
    for (; i < a.length; i++) {
      const opt = word(a[i]!);
      if (opt === 'AUTH' && i + 2 < a.length) {
        checkPassword(ctx, s, a[i + 1]!, a[i + 2]!);
        s.authed = true;
        i += 2;
      } else if (opt === 'SETNAME' && i + 1 < a.length) {
        name = a[++i]!.toString();
      } else throw new RespError(`ERR Syntax error in HELLO option '${a[i]!.toString()}'`);
    }
    if (ctx.password !== null && !s.authed)
      throw new RespError(
        'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      );
    if (name !== null) s.name = name;
    s.resp3 = proto === 3;
    return map(
      [
        ['server', bulk('redis')],
        ['version', bulk(REDIS_COMPAT_VERSION)],
        ['proto', integer(proto)],
        ['id', integer(s.id)],
        ['mode', bulk('standalone')],
        ['role', bulk('master')],
        ['modules', array([])],
      ],
      s.resp3,
    );
  },
  true,
);

/** The Redis version shardcache answers like (clients pick features by it). */
export const REDIS_COMPAT_VERSION = '7.0.0';

function clientInfo(ctx: ServerContext, s: Session): string {
  const age = Math.floor((Date.now() - s.createdAt) / 1000);
  return `id=${s.id} addr=${s.addr} laddr=127.0.0.1:${ctx.port} fd=0 name=${s.name ?? ''} age=${age} idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=${s.outputBytes()} tot-mem=0 events=${s.reading() ? 'r' : ''}${s.outputBytes() > 0 ? 'w' : ''} cmd=${s.lastCommand} user=default redir=-1 resp=${s.resp3 ? 3 : 2}`;
}

def('client', -2, ['slow'], NONE, (ctx, s, a) => {
  const sub = word(a[1]!);
  switch (sub) {
    case 'SETNAME': {
      if (a.length !== 3) throw new RespError("ERR wrong number of arguments for 'client|setname' command");
      const name = a[2]!.toString();
      if (/[\s]/.test(name)) throw new RespError('ERR Client names cannot contain spaces, newlines or special characters.');
      s.name = name === '' ? null : name;
      return OK;
    }
    case 'GETNAME':
      return bulk(s.name, s.resp3);
    case 'ID':
      return integer(s.id);
    case 'INFO':
      return text(`${clientInfo(ctx, s)}\n`, s.resp3);
    case 'LIST':
      return text([...ctx.sessions.values()].map((x) => `${clientInfo(ctx, x)}\n`).join(''), s.resp3);
    case 'SETINFO':
      return OK;
    case 'KILL':
      return clientKill(ctx, s, a);
    default:
      throw new RespError(`ERR unknown subcommand '${a[1]!.toString()}'. Try CLIENT HELP.`);
  }
});

/** CLIENT KILL addr (old form: +OK or an error), or CLIENT KILL [ID id] [ADDR addr] [SKIPME yes|no] (a count). */
function clientKill(ctx: ServerContext, s: Session, a: Buffer[]): Buffer {
  // Killing one's own connection: the reply goes out, then it closes and nothing after it runs.
  const kill = (victim: Session): void => {
    if (victim === s) s.closing = true;
    else victim.kill();
  };
  if (a.length === 3) {
    const addr = a[2]!.toString();
    const victim = [...ctx.sessions.values()].find((x) => x.addr === addr);
    if (victim === undefined) throw new RespError('ERR No such client');
    kill(victim);
    return OK;
  }
  if (a.length < 4 || a.length % 2 !== 0) throw new RespError(SYNTAX);
  let id: number | null = null;
  let addr: string | null = null;
  let skipMe = true;
  for (let i = 2; i < a.length; i += 2) {
    const opt = word(a[i]!);
    const val = a[i + 1]!;
    if (opt === 'ID') {
      id = intArg(val, 'ERR client-id should be greater than 0');
      if (id <= 0) throw new RespError('ERR client-id should be greater than 0');
    } else if (opt === 'ADDR') addr = val.toString();
    else if (opt === 'SKIPME') {
      const yes = word(val);
      if (yes !== 'YES' && yes !== 'NO') throw new RespError(SYNTAX);
      skipMe = yes === 'YES';
    } else throw new RespError(SYNTAX);
  }
  let killed = 0;
  for (const x of [...ctx.sessions.values()]) {
    if ((id !== null && x.id !== id) || (addr !== null && x.addr !== addr) || (skipMe && x === s)) continue;
    kill(x);
    killed++;
  }
  return integer(killed);
}

/** CONFIG GET's parameters: the cluster's settings, the server's, and fixed answers for what shardcache does not have. */
function configTable(ctx: ServerContext): Map<string, string> {
  const o = ctx.cluster.options;
  return new Map([
    ['maxmemory', String(o.maxMemoryBytes)],
    ['maxmemory-policy', o.evictionPolicy],
    ['port', String(ctx.port)],
    ['requirepass', ctx.password ?? ''],
    ['databases', '1'],
    ['save', ''],
    ['appendonly', 'no'],
    ['timeout', '0'],
    ...Object.entries(ctx.config),
  ]);
}

def('config', -2, ['admin', 'noscript', 'loading', 'stale'], NONE, (ctx, s, a) => {
  const sub = word(a[1]!);
  if (sub === 'GET') {
    if (a.length < 3) throw new RespError("ERR wrong number of arguments for 'config|get' command");
    const table = configTable(ctx);
    const found = new Map<string, string>();
    for (const p of a.slice(2)) {
      const re = compileGlob(p.toString().toLowerCase());
      for (const [k, v] of table) if (re.test(k)) found.set(k, v);
    }
    return map(
      [...found].map(([k, v]) => [k, bulk(v)]),
      s.resp3,
    );
  }
  if (sub === 'SET' || sub === 'RESETSTAT' || sub === 'REWRITE') {
    throw new RespError(`ERR CONFIG ${sub} is not supported: shardcache is configured by the flags of 'shardcache start'`);
  }
  throw new RespError(`ERR unknown subcommand '${a[1]!.toString()}'. Try CONFIG HELP.`);
});

def('command', -1, ['slow', 'loading', 'stale'], NONE, (_c, s, a) => {
  const sub = a.length > 1 ? word(a[1]!) : '';
  const info = (name: string, c: CommandSpec): Buffer =>
    array([
      bulk(name),
      integer(c.arity),
      array(c.flags.map(simple)),
      integer(c.firstKey),
      integer(c.lastKey),
      integer(c.step),
      array([]),
      array([]),
      array([]),
      array([]),
    ]);
  if (sub === '') return array([...commands].map(([n, c]) => info(n, c)));
  if (sub === 'COUNT') return integer(commands.size);
  if (sub === 'INFO') {
    const names = a.length > 2 ? a.slice(2).map((b) => b.toString().toLowerCase()) : [...commands.keys()];
    return array(names.map((n) => (commands.has(n) ? info(n, commands.get(n)!) : nilArray(s.resp3))));
  }
  if (sub === 'DOCS') {
    const names = a.length > 2 ? a.slice(2).map((b) => b.toString().toLowerCase()) : [...commands.keys()];
    return map(
      names.filter((n) => commands.has(n)).map((n) => [n, map([['summary', bulk(`the ${n.toUpperCase()} command`)]], s.resp3)]),
      s.resp3,
    );
  }
  throw new RespError(`ERR unknown subcommand '${a[1]!.toString()}'. Try COMMAND HELP.`);
});

def('time', 1, ['fast', 'loading', 'stale'], NONE, () => {
  const us = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
  return array([bulk(String(us / 1_000_000n)), bulk(String(us % 1_000_000n))]);
});

def('dbsize', 1, ['readonly', 'fast'], NONE, (ctx) => run(ctx.cluster.dbsize(), integer));

function flush(ctx: ServerContext, a: Buffer[]): Reply {
  if (a.length > 2 || (a.length === 2 && !['ASYNC', 'SYNC'].includes(word(a[1]!)))) throw new RespError(SYNTAX);
  return run(ctx.cluster.flushall(), () => OK);
}
def('flushall', -1, ['write'], NONE, (ctx, _s, a) => flush(ctx, a));
def('flushdb', -1, ['write'], NONE, (ctx, _s, a) => flush(ctx, a));

// ---- replication (leader side: src/replication/leader.ts) ---------------------------------------

registerReplicationCommands();

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

// ---- strings ---------------------------------------------------------------------------------

/**
 * A bulk encoder for the protocol the request was read under: called when the handler runs, so a
 * HELLO later in the same pipeline does not change how this reply is encoded.
 */
const bulkOf = (s: Session): ((v: string | Buffer | null) => Buffer) => {
  const resp3 = s.resp3;
  return (v) => bulk(v, resp3);
};

def('get', 2, ['readonly', 'fast'], KEY1, (ctx, s, a) => run(ctx.cluster.get(a[1]!), bulkOf(s)));

/** SET's options → the cluster's SetOptions, with Redis's errors. */
function setOptions(a: Buffer[], from: number, command: string): Record<string, number | boolean> {
  const o: Record<string, number | boolean> = {};
  let expiry = false;
  for (let i = from; i < a.length; i++) {
    const w = word(a[i]!);
    if ((w === 'NX' && !o.xx) || (w === 'XX' && !o.nx)) o[w.toLowerCase()] = true;
    else if (w === 'GET') o.get = true;
    else if (w === 'KEEPTTL' && !expiry) {
      o.keepTtl = true;
      expiry = true;
    } else if (['EX', 'PX', 'EXAT', 'PXAT'].includes(w) && !expiry && i + 1 < a.length) {
      const n = intArg(a[++i]!);
      const ms = w === 'EX' || w === 'EXAT' ? n * 1000 : n;
      if (n <= 0 || !Number.isSafeInteger(ms) || (w.length === 2 && !Number.isSafeInteger(Date.now() + ms))) {
        throw new RespError(`ERR invalid expire time in '${command}' command`);
      }
      o[w.toLowerCase()] = n;
      expiry = true;
    } else throw new RespError(SYNTAX);
  }
  return o;
}

def('set', -3, ['write', 'denyoom'], KEY1, (ctx, s, a) => {
  const o = setOptions(a, 3, 'set');
  const p = ctx.cluster.set(a[1]!, wireValue(a[2]!), o as never) as Promise<unknown>;
  if (o.get === true) return run(p as Promise<string | Buffer | null>, bulkOf(s));
  const none = nil(s.resp3);
  return run(p, (applied) => (applied === true ? OK : none));
});
def('setnx', 3, ['write', 'denyoom', 'fast'], KEY1, (ctx, _s, a) =>
  run(ctx.cluster.set(a[1]!, wireValue(a[2]!), { nx: true }), (ok) => integer(ok ? 1 : 0)),
);
function setex(ctx: ServerContext, a: Buffer[], unit: 'ex' | 'px', command: string): Reply {
  const n = intArg(a[2]!);
  if (n <= 0 || !Number.isSafeInteger(unit === 'ex' ? n * 1000 : n)) throw new RespError(`ERR invalid expire time in '${command}' command`);
  return run(ctx.cluster.set(a[1]!, wireValue(a[3]!), { [unit]: n }), () => OK);
}
def('setex', 4, ['write', 'denyoom'], KEY1, (ctx, _s, a) => setex(ctx, a, 'ex', 'setex'));
def('psetex', 4, ['write', 'denyoom'], KEY1, (ctx, _s, a) => setex(ctx, a, 'px', 'psetex'));
def('getset', 3, ['write', 'denyoom', 'fast'], KEY1, (ctx, s, a) =>
  run(ctx.cluster.set(a[1]!, wireValue(a[2]!), { get: true }), bulkOf(s)),
);

def('mget', -2, ['readonly', 'fast'], ALLKEYS, (ctx, s, a) => {
  const enc = bulkOf(s);
  return run(ctx.cluster.mget(a.slice(1)), (vs) => array(vs.map(enc)));
});
def('mset', -3, ['write', 'denyoom'], [1, -1, 2], (ctx, _s, a) => {
  if (a.length % 2 === 0) throw new RespError("ERR wrong number of arguments for 'mset' command");
  const pairs: [Buffer, string | Uint8Array][] = [];
  for (let i = 1; i < a.length; i += 2) pairs.push([a[i]!, wireValue(a[i + 1]!)]);
  return run(ctx.cluster.mset(pairs), () => OK);
});

/**
 * INCRBY and friends through a Sink, not the API's incrBy: past 2^53 a shard answers with the
 * exact decimal text, which the API turns into a (rounded) number.
 */
function incr(ctx: ServerContext, key: Buffer, by: number | bigint): Reply {
  const k = keyArg(key);
  return new Promise((resolve) =>
    sendTo(ctx.cluster, Op.INCRBY, k, by, {
      done: (v) => resolve(integer(v as number | string)),
      fail: (err) => resolve(error(replyError(err))),
    }),
  );
}
def('incr', 2, ['write', 'denyoom', 'fast'], KEY1, (ctx, _s, a) => incr(ctx, a[1]!, 1));
def('decr', 2, ['write', 'denyoom', 'fast'], KEY1, (ctx, _s, a) => incr(ctx, a[1]!, -1));
def('incrby', 3, ['write', 'denyoom', 'fast'], KEY1, (ctx, _s, a) => incr(ctx, a[1]!, int64Arg(a[2]!)));
def('decrby', 3, ['write', 'denyoom', 'fast'], KEY1, (ctx, _s, a) => {
  const by = int64Arg(a[2]!);
  if (by === -9223372036854775808n) throw new RespError('ERR decrement would overflow');
  return incr(ctx, a[1]!, typeof by === 'bigint' ? -by : -by);
});

def('append', 3, ['write', 'denyoom', 'fast'], KEY1, (ctx, _s, a) => run(ctx.cluster.append(a[1]!, wireValue(a[2]!)), integer));
def('strlen', 2, ['readonly', 'fast'], KEY1, (ctx, _s, a) => run(ctx.cluster.strlen(a[1]!), integer));
const getrange: Handler = (ctx, s, a) => run(ctx.cluster.getRange(a[1]!, intArg(a[2]!), intArg(a[3]!)), bulkOf(s));
def('getrange', 4, ['readonly'], KEY1, getrange);
def('substr', 4, ['readonly'], KEY1, getrange);
def('setrange', 4, ['write', 'denyoom'], KEY1, (ctx, _s, a) => {
  const offset = intArg(a[2]!);
  if (offset < 0) throw new RespError('ERR offset is out of range');
  if (offset + a[3]!.length > ctx.cluster.options.maxValueBytes) {
    throw new RespError('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
  }
  return run(ctx.cluster.setRange(a[1]!, offset, wireValue(a[3]!)), integer);
});
def('getdel', 2, ['write', 'fast'], KEY1, (ctx, s, a) => run(ctx.cluster.getDel(a[1]!), bulkOf(s)));
def('getex', -2, ['write', 'fast'], KEY1, (ctx, s, a) => {
  const o: Record<string, number | boolean> = {};
  let set = false;
  for (let i = 2; i < a.length; i++) {
    const w = word(a[i]!);
    if (w === 'PERSIST' && !set) {
      o.persist = true;
      set = true;
    } else if (['EX', 'PX', 'EXAT', 'PXAT'].includes(w) && !set && i + 1 < a.length) {
      const n = intArg(a[++i]!);
      const ms = w === 'EX' || w === 'EXAT' ? n * 1000 : n;
      if (n <= 0 || !Number.isSafeInteger(ms) || (w.length === 2 && !Number.isSafeInteger(Date.now() + ms))) {
        throw new RespError("ERR invalid expire time in 'getex' command");
      }
      o[w.toLowerCase()] = n;
      set = true;
    } else throw new RespError(SYNTAX);
  }
  return run(ctx.cluster.getEx(a[1]!, o), bulkOf(s));
});
def('incrbyfloat', 3, ['write', 'denyoom', 'fast'], KEY1, (ctx, s, a) => {
  const text = a[2]!.toString('latin1');
  const by = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(by)) throw new RespError('ERR value is not a valid float');
  return run(ctx.cluster.incrByFloat(a[1]!, by), bulkOf(s));
});

// ---- keys ------------------------------------------------------------------------------------

def('del', -2, ['write'], ALLKEYS, (ctx, _s, a) => run(ctx.cluster.del(...a.slice(1)), integer));
def('unlink', -2, ['write', 'fast'], ALLKEYS, (ctx, _s, a) => run(ctx.cluster.del(...a.slice(1)), integer));
def('exists', -2, ['readonly', 'fast'], ALLKEYS, (ctx, _s, a) => run(ctx.cluster.exists(...a.slice(1)), integer));
def('type', 2, ['readonly', 'fast'], KEY1, (ctx, _s, a) => run(ctx.cluster.exists(a[1]!), (n) => simple(n > 0 ? 'string' : 'none')));
def('keys', 2, ['readonly'], NONE, (ctx, s, a) => {
  const enc = bulkOf(s);
  return run(ctx.cluster.keys(a[1]!.toString()), (ks) => array(ks.map(enc)));
});

def('scan', -2, ['readonly'], NONE, (ctx, s, a) => {
  const cursor = a[1]!.toString('latin1');
  if (!/^[0-9]+$/.test(cursor) || !Number.isSafeInteger(Number(cursor))) throw new RespError('ERR invalid cursor');
  const opts: { match?: string; count?: number } = {};
  for (let i = 2; i < a.length; i++) {
    const w = word(a[i]!);
    if (w === 'MATCH' && i + 1 < a.length) opts.match = a[++i]!.toString();
    else if (w === 'COUNT' && i + 1 < a.length) {
      const n = intArg(a[++i]!);
      if (n < 1) throw new RespError(SYNTAX);
      opts.count = n;
    } else if (w === 'TYPE' && i + 1 < a.length) {
      // Every value is a string: another type matches nothing.
      if (word(a[++i]!) !== 'STRING') opts.match = '\u0000never\u0000';
    } else throw new RespError(SYNTAX);
  }
  const enc = bulkOf(s);
  return run(ctx.cluster.scan(cursor, opts), ([next, keys]) => array([bulk(next), array(keys.map(enc))]));
});

def('rename', 3, ['write'], [1, 2, 1], (ctx, _s, a) => run(ctx.cluster.rename(a[1]!, a[2]!), () => OK));
def('renamenx', 3, ['write', 'fast'], [1, 2, 1], (ctx, _s, a) =>
  run(ctx.cluster.rename(a[1]!, a[2]!, { nx: true }), (ok) => integer(ok ? 1 : 0)),
);
def('copy', -3, ['write', 'denyoom'], [1, 2, 1], (ctx, _s, a) => {
  let replace = false;
  for (let i = 3; i < a.length; i++) {
    const w = word(a[i]!);
    if (w === 'REPLACE') replace = true;
    else if (w === 'DB' && i + 1 < a.length) {
      if (intArg(a[++i]!) !== 0) throw new RespError('ERR DB index is out of range');
    } else throw new RespError(SYNTAX);
  }
  return run(ctx.cluster.copy(a[1]!, a[2]!, { replace }), (ok) => integer(ok ? 1 : 0));
});
def('msetnx', -3, ['write', 'denyoom'], [1, -1, 2], (ctx, _s, a) => {
  if (a.length % 2 === 0) throw new RespError("ERR wrong number of arguments for 'msetnx' command");
  const pairs: [Buffer, string | Uint8Array][] = [];
  for (let i = 1; i < a.length; i += 2) pairs.push([a[i]!, wireValue(a[i + 1]!)]);
  return run(ctx.cluster.msetNx(pairs), (ok) => integer(ok ? 1 : 0));
});
def('randomkey', 1, ['readonly'], NONE, (ctx, s) => run(ctx.cluster.randomKey(), bulkOf(s)));

const EXPIRE_MODES = ['NX', 'XX', 'GT', 'LT'] as const;
type ExpireModeWord = (typeof EXPIRE_MODES)[number];

function expire(ctx: ServerContext, a: Buffer[], command: string, toAbsoluteMs: (n: number) => number): Reply {
  const n = intArg(a[2]!);
  const modes = new Set<ExpireModeWord>();
  for (const b of a.slice(3)) {
    const w = word(b) as ExpireModeWord;
    if (!EXPIRE_MODES.includes(w)) throw new RespError(`ERR Unsupported option ${b.toString()}`);
    modes.add(w);
  }
  if (modes.has('NX') && modes.size > 1) throw new RespError('ERR NX and XX, GT or LT options at the same time are not compatible');
  if (modes.has('GT') && modes.has('LT')) throw new RespError('ERR GT and LT options at the same time are not compatible');
  const mode = [...modes];
  const at = toAbsoluteMs(n);
  if (!Number.isSafeInteger(at)) throw new RespError(`ERR invalid expire time in '${command}' command`);
  // A time not in the future deletes the key (after the condition is checked), as in Redis.
  return run(ctx.cluster.pexpireAt(a[1]!, Math.max(1, at), mode), (ok) => integer(ok ? 1 : 0));
}
def('expire', -3, ['write', 'fast'], KEY1, (ctx, _s, a) => expire(ctx, a, 'expire', (n) => Date.now() + n * 1000));
def('pexpire', -3, ['write', 'fast'], KEY1, (ctx, _s, a) => expire(ctx, a, 'pexpire', (n) => Date.now() + n));
def('expireat', -3, ['write', 'fast'], KEY1, (ctx, _s, a) => expire(ctx, a, 'expireat', (n) => n * 1000));
def('pexpireat', -3, ['write', 'fast'], KEY1, (ctx, _s, a) => expire(ctx, a, 'pexpireat', (n) => n));
def('ttl', 2, ['readonly', 'fast'], KEY1, (ctx, _s, a) => run(ctx.cluster.ttl(a[1]!), integer));
def('pttl', 2, ['readonly', 'fast'], KEY1, (ctx, _s, a) => run(ctx.cluster.pttl(a[1]!), integer));
def('persist', 2, ['write', 'fast'], KEY1, (ctx, _s, a) => run(ctx.cluster.persist(a[1]!), (ok) => integer(ok ? 1 : 0)));
def('pexpiretime', 2, ['readonly', 'fast'], KEY1, (ctx, _s, a) => run(ctx.cluster.pexpireTime(a[1]!), integer));
def('expiretime', 2, ['readonly', 'fast'], KEY1, (ctx, _s, a) =>
  run(ctx.cluster.pexpireTime(a[1]!), (ms) => integer(ms < 0 ? ms : Math.floor(ms / 1000))),
);

export { NOT_INTEGER };
