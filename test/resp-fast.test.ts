// The RESP hot path (GET, plain SET, INCR, DECR straight from the read buffer, replies through
// reply slots instead of promises) against the general path: same bytes stored and returned for
// every kind of key and value, same errors, its fall-backs (options, limits, auth, replicas, a
// moving range), a shard crash, and a client that does not read its replies.
import t from 'tap';
import type { Cluster } from '../src/index.js';
import { startCluster, type Teardown } from './helpers/cluster.js';
import { check, Raw, serve } from './helpers/resp.js';

/** A multibulk request (what clients send, and what takes the hot path). */
function cmd(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A bulk reply's bytes. */
function bulk(v: string | Buffer): string {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  return `$${b.length}\r\n${b.toString('latin1')}\r\n`;
}

/** `n` keys that the ring gives to `shard`. */
function keysOf(c: Cluster, shard: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (c.ownerOf(`k${i}`) === shard) out.push(`k${i}`);
  return out;
}

const KEYS: (string | Buffer)[] = [
  'plain',
  '',
  'ключ-🔑',
  Buffer.from([0xff, 0x00, 0x80]),
  Buffer.concat([Buffer.from('long-binary-key-over-thirty-two-bytes-'), Buffer.from([0xc3])]),
  'x'.repeat(300),
];
const VALUES: (string | Buffer)[] = [
  'v',
  '',
  'значение ✓',
  Buffer.from([0, 1, 2, 0xfe, 0xff]),
  Buffer.concat([Buffer.alloc(40, 'a'), Buffer.from([0xe2, 0x82])]),
  'y'.repeat(5000),
  'line\r\nbreak',
];

t.test('the hot path and the general path store and return the same bytes', async (t) => {
  const c = await startCluster(t);
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  for (const [i, key] of KEYS.entries()) {
    const value = VALUES[i % VALUES.length]!;
    const other = VALUES[(i + 1) % VALUES.length]!;
    // Hot SET, then read by the hot GET, by the general path (GETRANGE, MGET) and by the API.
    r.send(Buffer.concat([cmd('SET', key, value), cmd('GET', key), cmd('GETRANGE', key, '0', '-1'), cmd('MGET', key)]));
    await check(t, r, `+OK\r\n${bulk(value)}${bulk(value)}*1\r\n${bulk(value)}`, `key ${i}: hot SET, read back every way`);
    const viaApi = await c.get(key);
    t.same(Buffer.from(viaApi as string | Buffer), Buffer.from(value), `key ${i}: the API sees the same bytes`);
    // General SET (an option), hot GET.
    r.send(Buffer.concat([cmd('SET', key, other, 'KEEPTTL'), cmd('get', key)]));
    await check(t, r, `+OK\r\n${bulk(other)}`, `key ${i}: general SET, hot GET`);
  }
  // MSET, MGET, EXISTS, DEL and UNLINK over keys on every shard, against the general path's answers.
  const many = Array.from({ length: 30 }, (_, i) => (i % 5 === 0 ? Buffer.from([0xff, i]) : `m:${i}`));
  const vals = many.map((_, i) => VALUES[i % VALUES.length]!);
  r.send(Buffer.concat([cmd('MSET', ...many.flatMap((k, i) => [k, vals[i]!])), cmd('MGET', ...many, 'absent')]));
  await check(t, r, `+OK\r\n*31\r\n${vals.map(bulk).join('')}$-1\r\n`, 'MSET then MGET across shards');
  const viaApi = await c.mget(many);
  t.same(
    viaApi.map((v) => Buffer.from(v as string | Buffer)),
    vals.map((v) => Buffer.from(v)),
    'the API reads what MSET stored',
  );
  r.send(
    Buffer.concat([
      cmd('EXISTS', many[0]!, many[0]!, many[1]!, 'absent'),
      cmd('DEL', many[0]!, 'absent'),
      cmd('UNLINK', many[1]!, many[2]!),
    ]),
  );
  await check(t, r, ':3\r\n:1\r\n:2\r\n', 'counts as Redis (repeats count for EXISTS)');
  r.send(Buffer.concat([cmd('MSET', 'odd'), cmd('MSET', 'a', '1', 'b'), cmd('MGET'), cmd('DEL')]));
  await check(
    t,
    r,
    "-ERR wrong number of arguments for 'mset' command\r\n".repeat(2) +
      "-ERR wrong number of arguments for 'mget' command\r\n-ERR wrong number of arguments for 'del' command\r\n",
  );
  // Names in any case; letters only fold onto themselves.
  r.send(Buffer.concat([cmd('sEt', 'case', '1'), cmd('GeT', 'case'), cmd('iNcR', 'case'), cmd('DeCr', 'case'), cmd('DECR', 'case')]));
  await check(t, r, `+OK\r\n${bulk('1')}:2\r\n:1\r\n:0\r\n`);
  r.send(Buffer.concat([cmd('G\x05T', 'case'), cmd('GET\x00', 'case')]));
  await check(t, r, "-ERR unknown command 'G\x05T', with args beginning with: 'case' \r\n", 'not a GET');
  await check(t, r, "-ERR unknown command 'GET\x00', with args beginning with: 'case' \r\n");
});

t.test('hot-path integers, errors and fall-backs match Redis', async (t) => {
  const c = await startCluster(t, { maxValueBytes: 64 });
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  r.send(
    Buffer.concat([
      cmd('DECR', 'n'),
      cmd('DECR', 'n'),
      cmd('SET', 'big', '9007199254740993'),
      cmd('INCR', 'big'),
      cmd('SET', 'min', '-9223372036854775808'),
      cmd('DECR', 'min'),
      cmd('SET', 'max', '9223372036854775807'),
      cmd('INCR', 'max'),
      cmd('INCR', 'plain'),
      cmd('SET', 'plain', 'abc'),
      cmd('INCR', 'plain'),
    ]),
  );
  await check(
    t,
    r,
    ':-1\r\n:-2\r\n+OK\r\n:9007199254740994\r\n+OK\r\n-ERR increment or decrement would overflow\r\n+OK\r\n' +
      '-ERR increment or decrement would overflow\r\n:1\r\n+OK\r\n-ERR value is not an integer or out of range\r\n',
  );
  // The general path (here inline; also a request split over reads) answers past 2^53 exactly too.
  r.send('SET big2 9007199254740992\r\nINCR big2\r\nINCRBY big2 2\r\nDECRBY big2 1\r\n');
  await check(t, r, '+OK\r\n:9007199254740993\r\n:9007199254740995\r\n:9007199254740994\r\n');
  // Arity and limits go through the general path and get its errors.
  r.send(Buffer.concat([cmd('GET'), cmd('GET', 'a', 'b'), cmd('INCR', 'a', 'b'), cmd('SET', 'a'), cmd('SET', 'a', 'x'.repeat(65))]));
  await check(
    t,
    r,
    "-ERR wrong number of arguments for 'get' command\r\n-ERR wrong number of arguments for 'get' command\r\n" +
      "-ERR wrong number of arguments for 'incr' command\r\n-ERR wrong number of arguments for 'set' command\r\n" +
      '-ERR value is larger than the limit of 64 bytes\r\n',
  );
  r.send(
    Buffer.concat([cmd('SET', 'a', 'x'.repeat(64)), cmd('STRLEN', 'a'), cmd('SET', 'a', 'b', 'NX'), cmd('SET', 'a', 'b', 'XX', 'GET')]),
  );
  await check(t, r, `+OK\r\n:64\r\n$-1\r\n${bulk('x'.repeat(64))}`, 'at the limit, and SET options');
  // Hot commands, general commands and inline commands interleaved in one write: replies in order.
  const mixed: Buffer[] = [];
  const want: string[] = [];
  for (let i = 0; i < 60; i++) {
    if (i % 3 === 0) {
      mixed.push(cmd('SET', `m${i}`, `${i}`));
      want.push('+OK\r\n');
    } else if (i % 3 === 1) {
      mixed.push(Buffer.from(`GET m${i - 1}\r\n`));
      want.push(bulk(`${i - 1}`));
    } else {
      mixed.push(cmd('STRLEN', `m${i - 2}`));
      want.push(`:${String(i - 2).length}\r\n`);
    }
  }
  r.send(Buffer.concat(mixed));
  await check(t, r, want.join(''), 'sixty mixed commands in order');
});

t.test('a pipeline keeps its order around FLUSHALL, HELLO 3 and CLIENT KILL of itself', async (t) => {
  const c = await startCluster(t);
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  r.send(Buffer.concat([cmd('SET', 'a', '1'), cmd('FLUSHALL'), cmd('SET', 'k', 'v'), cmd('GET', 'k'), cmd('DBSIZE')]));
  await check(t, r, `+OK\r\n+OK\r\n+OK\r\n${bulk('v')}:1\r\n`, 'writes after FLUSHALL are not wiped by it');
  t.equal(await c.get('k'), 'v');
  // Replies keep the protocol their request was read under.
  r.send(Buffer.concat([cmd('GET', 'missing'), cmd('SET', 'k', 'v', 'XX', 'GET'), cmd('SET', 'nope', 'v', 'XX'), cmd('HELLO', '3')]));
  await check(t, r, `$-1\r\n${bulk('v')}$-1\r\n`);
  t.match(await r.until('\r\n'), /^%7\r\n/);
  await r.until('$7\r\nmodules\r\n*0\r\n');
  r.send(cmd('GET', 'missing'));
  await check(t, r, '_\r\n', 'RESP3 from then on');
  // Killing itself: the reply, then the close; nothing after it runs.
  r.send(cmd('CLIENT', 'ID'));
  const id = /^:(\d+)\r\n$/.exec(await r.until('\r\n'))![1]!;
  r.send(Buffer.concat([cmd('CLIENT', 'KILL', 'ID', id, 'SKIPME', 'no'), cmd('SET', 'after-kill', 'x'), cmd('INCR', 'ctr')]));
  await check(t, r, ':1\r\n');
  await r.closedByServer();
  t.same(await c.mget(['after-kill', 'ctr']), [null, null], 'the commands after the kill did not run');
  const other = new Raw(port);
  t.teardown(() => other.end());
  other.send('CLIENT KILL ID 0\r\nCLIENT KILL ID -5\r\n');
  await check(t, other, '-ERR client-id should be greater than 0\r\n'.repeat(2));
});

t.test('before AUTH the hot commands answer NOAUTH', async (t) => {
  const c = await startCluster(t, { shards: 1 });
  const port = await serve(t, c, { password: 'pw' });
  const r = new Raw(port);
  t.teardown(() => r.end());
  r.send(Buffer.concat([cmd('SET', 'a', 'b'), cmd('GET', 'a'), cmd('AUTH', 'pw'), cmd('SET', 'a', 'b'), cmd('GET', 'a')]));
  await check(t, r, `-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n${bulk('b')}`);
  t.equal(await c.get('a'), 'b');
});

t.test('with replicas and during a migration the hot commands take the full path', async (t) => {
  const c = await startCluster(t, { shards: 2, replicas: 2 });
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  const n = 2000;
  const sets = Buffer.concat(Array.from({ length: n }, (_, i) => cmd('SET', `r${i}`, `v${i}`)));
  // The pipeline lands while a shard joins: some keys' ranges are moving when their SET arrives.
  const joined = c.addShard();
  r.send(sets);
  await check(t, r, '+OK\r\n'.repeat(n), 'every SET acknowledged');
  await joined;
  await c.whenReady();
  r.send(Buffer.concat(Array.from({ length: n }, (_, i) => cmd('GET', `r${i}`))));
  await check(t, r, Array.from({ length: n }, (_, i) => bulk(`v${i}`)).join(''), 'every value there after the move');
  const stats = await c.stats();
  t.equal(stats.totals.keys, 2 * n, 'two copies of each key');
});

t.test('multi-key hot commands sent while a shard joins: every value lands', async (t) => {
  const c = await startCluster(t, { shards: 2 });
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  const n = 300;
  const msets = Buffer.concat(Array.from({ length: n }, (_, i) => cmd('MSET', `a${i}`, `x${i}`, `b${i}`, `y${i}`, `c${i}`, `z${i}`)));
  const joined = c.addShard();
  r.send(msets);
  await check(t, r, '+OK\r\n'.repeat(n), 'every MSET acknowledged');
  await joined;
  r.send(Buffer.concat(Array.from({ length: n }, (_, i) => cmd('MGET', `a${i}`, `b${i}`, `c${i}`))));
  await check(t, r, Array.from({ length: n }, (_, i) => `*3\r\n${bulk(`x${i}`)}${bulk(`y${i}`)}${bulk(`z${i}`)}`).join(''));
  t.equal(await c.dbsize(), 3 * n);
});

t.test('a shard crash fails its pending hot commands with TRYAGAIN; the connection goes on', async (t) => {
  const c = await startCluster(t, { shards: 2, faultInjection: true, watchdogIntervalMs: 20, watchdogTimeoutMs: 1500 });
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  const mine = keysOf(c, 'node-1', 3);
  const rejoined = new Promise<void>((resolve) => c.on('join', (e) => e.restart && resolve()));
  // The shard hangs: what is sent to it now waits until the watchdog kills it. (SETs: a GET may be
  // answered in place from the hung shard's memory, which stays consistent until it is killed.)
  c.injectFault(1, 'hang');
  r.send(Buffer.concat(mine.map((k) => cmd('SET', k, 'v'))));
  for (const k of mine) {
    t.match(
      await r.until('\r\n'),
      /^-TRYAGAIN shard node-1 crashed \(no answer to the watchdog for 1500 ms\) before answering\r\n$/,
      `SET ${k} fails`,
    );
  }
  await rejoined;
  r.send(Buffer.concat([cmd('SET', mine[0]!, 'after'), cmd('GET', mine[0]!)]));
  await check(t, r, `+OK\r\n${bulk('after')}`);
});

/**
 * A client named `name` that has stored `value` under `key` and stops reading, and a second
 * connection to watch it with CLIENT LIST.
 */
async function slowClient(t: Teardown, name: string, key: string, value: string): Promise<{ r: Raw; watcher: Raw }> {
  const c = await startCluster(t, { shards: 1 });
  const port = await serve(t, c);
  const r = new Raw(port);
  const watcher = new Raw(port);
  t.teardown(() => {
    r.end();
    watcher.end();
  });
  r.send(Buffer.concat([cmd('CLIENT', 'SETNAME', name), cmd('SET', key, value)]));
  await r.expect('+OK\r\n+OK\r\n');
  r.pause();
  return { r, watcher };
}

/**
 * Asks the server, one round trip at a time, until it reports `name`'s replies held back and
 * the client no longer read (events=w: waiting to write, not to read); returns its omem.
 */
async function heldBytes(watcher: Raw, name: string): Promise<number> {
  let info = '';
  while (!/ events=w /.test(info)) {
    watcher.send(cmd('CLIENT', 'LIST'));
    info = (await watcher.bulk()).split('\n').find((l) => l.includes(` name=${name} `)) ?? '';
  }
  return Number(/ omem=(\d+) /.exec(info)?.[1]);
}

t.test('a client that stops reading is no longer read until it drains its replies, then gets them all', async (t) => {
  const value = 'z'.repeat(1024 * 1024);
  const { r, watcher } = await slowClient(t, 'slow', 'huge', value);
  // 32 MB of replies asked for at once, and not read: more than the kernel's buffers and the
  // 8 MB output high-water mark.
  const n = 32;
  r.send(Buffer.concat([...Array.from({ length: n }, () => cmd('GET', 'huge')), cmd('PING')]));
  const omem = await heldBytes(watcher, 'slow');
  t.ok(omem > 8 * 1024 * 1024, `the server holds ${omem} bytes for the slow client and stopped reading it`);
  r.resume();
  const want = `${bulk(value).repeat(n)}+PONG\r\n`;
  t.ok((await r.read(want.length)) === want, 'every reply and the PING, in order');
  r.send(cmd('GET', 'nope'));
  await check(t, r, '$-1\r\n', 'and it is read again');
});

t.test('one read asking for more replies than a client may have waiting is run in parts', async (t) => {
  const value = 'q'.repeat(20 * 1024);
  const { r, watcher } = await slowClient(t, 'greedy', 'v', value);
  // ~40 KB of requests for 2000 × 20 KB = 40 MB of replies, not read.
  const n = 2000;
  r.send(Buffer.concat(Array.from({ length: n }, () => cmd('GET', 'v'))));
  const omem = await heldBytes(watcher, 'greedy');
  t.ok(omem < (n / 2 + 64) * value.length, `held at ${omem} bytes, not all ${n * value.length}`);
  r.resume();
  const one = bulk(value);
  let got = 0;
  for (; got < n; got++) if ((await r.read(one.length)) !== one) break;
  t.equal(got, n, 'then every reply, in order');
});

t.test('a shard left down, and a closing cluster, answer the hot commands with errors', async (t) => {
  const c = await startCluster(t, { shards: 2, faultInjection: true, maxBootFailures: 2 });
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  const [mine] = keysOf(c, 'node-2', 1);
  const [theirs] = keysOf(c, 'node-1', 1);
  const down = new Promise<void>((resolve) => c.on('crash', (e) => !e.restarting && resolve()));
  c.injectFault(2, 'boot-loop');
  await down;
  r.send(
    Buffer.concat([cmd('GET', mine!), cmd('SET', mine!, 'v'), cmd('MGET', theirs!, mine!), cmd('SET', theirs!, 'v'), cmd('GET', theirs!)]),
  );
  const downErr = '-TRYAGAIN shard node-2 is down\r\n';
  await check(t, r, `${downErr}${downErr}${downErr}+OK\r\n${bulk('v')}`, 'the down shard fails, the other serves');
  await c.close();
  r.send(Buffer.concat([cmd('GET', theirs!), cmd('MGET', theirs!)]));
  await check(t, r, '-ERR server is shutting down\r\n'.repeat(2));
});
