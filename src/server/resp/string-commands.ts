// The string commands of the RESP table: GET, SET and its options, SETNX/SETEX/PSETEX/GETSET,
// MGET/MSET, the INCR family, APPEND, STRLEN, ranges, GETDEL, GETEX, INCRBYFLOAT. Arguments are
// checked with Redis's errors, then run through the cluster's public API; no shard data is touched.
import { sendTo } from '../../cluster.js';
import { keyArg } from '../../args.js';
import { Op } from '../../protocol.js';
import { int64Arg, intArg, RespError, replyError, SYNTAX, wireValue, word } from './command-args.js';
import { array, error, integer, nil, OK } from '../../resp/reply-encoder.js';
import { ALLKEYS, bulkOf, def, type Handler, KEY1, type Reply, run, type ServerContext } from './registry.js';

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
