// The connection commands of the RESP table: PING, ECHO, QUIT, SELECT, AUTH, HELLO, CLIENT. They
// change the caller's Session (or, with CLIENT KILL, close another connection); never the data.
import { checkPassword as samePassword } from '../auth.js';
import { intArg, RespError, SYNTAX, word } from './command-args.js';
import { array, bulk, integer, map, OK, PONG, text } from '../../resp/reply-encoder.js';
import { def, NONE, type ServerContext, type Session } from './registry.js';

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
