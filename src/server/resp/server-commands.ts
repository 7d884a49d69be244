// The server commands of the RESP table: CONFIG GET, COMMAND, TIME, DBSIZE, FLUSHALL and FLUSHDB.
// CONFIG SET and friends are refused: the flags of `shardcache start` configure the server.
import { compileGlob } from '../../glob.js';
import { RespError, SYNTAX, word } from './command-args.js';
import { array, bulk, integer, map, nilArray, OK, simple } from '../../resp/reply-encoder.js';
import { type CommandSpec, commandTable as commands, def, NONE, type Reply, run, type ServerContext } from './registry.js';

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
