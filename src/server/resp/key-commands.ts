// The keyspace commands of the RESP table: DEL/UNLINK, EXISTS, TYPE, KEYS, SCAN, RENAME(NX), COPY,
// MSETNX, RANDOMKEY, the EXPIRE family and TTLs. Arguments are checked with Redis's errors, then
// run through the cluster's public API; no shard data is touched.
import { intArg, RespError, SYNTAX, wireValue, word } from './command-args.js';
import { array, bulk, integer, OK, simple } from '../../resp/reply-encoder.js';
import { ALLKEYS, bulkOf, def, KEY1, NONE, type Reply, run, type ServerContext } from './registry.js';

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
