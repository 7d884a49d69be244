// The RESP port against hostile clients: HTTP requests (a web page posting Redis commands to
// localhost) closed with nothing run, at every split and in a fuzz; AUTH failures counted and
// logged at most once a second; protected mode; a maxclients flood refused without sessions.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { Rng } from '../src/bench/workload.js';
import type { RespClient } from '../src/client/resp.js';
import type { Cluster } from '../src/index.js';
import { AuthFailures, checkPassword } from '../src/server/auth.js';
import { createMetrics } from '../src/server/metrics.js';
import { isLoopback, isLoopbackHost, PROTECTED_MODE_MESSAGE } from '../src/server/protected.js';
import { CrossProtocol, isHttpLine, RespParser } from '../src/resp/request-parser.js';
import type { RespServer, RespServerOptions } from '../src/server/resp/server.js';
import { startCluster } from './helpers/cluster.js';
import { check, Logs, Raw, respClient, startResp } from './helpers/resp.js';

/** A small seeded generator (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** The server side of each accepted connection counts the bytes it received: a test waits on it to split a request exactly. */
function receivedCounter(server: RespServer): { received: () => number; next: () => Promise<void> } {
  let socket: Socket | null = null;
  const waiters: (() => void)[] = [];
  server.on('connection', (s: Socket) => {
    socket = s;
    s.on('data', () => {
      for (const w of waiters.splice(0)) w();
    });
  });
  return {
    received: () => socket?.bytesRead ?? 0,
    next: () => new Promise<void>((r) => waiters.push(r)),
  };
}

/** Connects, sends `parts` one after the other (each once the server read the previous ones), and resolves with what came back before the close. */
async function sendSplit(port: number, counter: ReturnType<typeof receivedCounter>, parts: Buffer[]): Promise<string> {
  const sock = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
  sock.on('error', () => undefined);
  const closed = once(sock, 'close');
  await once(sock, 'connect');
  let sent = 0;
  for (const p of parts) {
    if (sock.destroyed) break;
    sock.write(p);
    sent += p.length;
    while (counter.received() < sent && !sock.destroyed) await Promise.race([counter.next(), closed]);
  }
  await closed;
  return got;
}

async function infoStat(c: RespClient, name: string): Promise<number> {
  const info = String(await c.call('INFO', 'stats'));
  const m = new RegExp(`${name}:(\\d+)`).exec(info);
  return Number(m?.[1] ?? Number.NaN);
}

async function attackTarget(
  t: Test,
  options: RespServerOptions = {},
): Promise<{ cluster: Cluster; server: RespServer; logs: Logs; c: RespClient }> {
  const cluster = await startCluster(t, { shards: 2 });
  const logs = new Logs();
  const server = await startResp(t, cluster, { log: logs.log, ...options });
  const c = await respClient(t, server.context.port);
  t.equal(await c.call('SET', 'canary', 'original'), 'OK');
  return { cluster, server, logs, c };
}

/** The data set and the role are as the attack found them, and no command ran. */
async function untouched(t: Test, c: RespClient, server: RespServer, commandsBefore: number, what: string): Promise<void> {
  t.equal(server.context.stats.commands, commandsBefore, `${what}: no command ran`);
  t.equal(String(await c.call('GET', 'canary')), 'original', `${what}: data unchanged`);
  t.equal(String(((await c.call('ROLE')) as unknown[])[0]), 'master', `${what}: still a master`);
  t.equal(await c.call('DBSIZE'), 1, `${what}: nothing added or removed`);
}

const BODY = 'REPLICAOF 127.0.0.1 9\r\nSET canary hacked\r\nFLUSHALL\r\n*1\r\n$8\r\nFLUSHALL\r\n';
function browserPost(contentType: boolean, body = BODY, keepAlive = true): string {
  return (
    'POST / HTTP/1.1\r\n' +
    'Host: 127.0.0.1:6379\r\n' +
    `Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (contentType ? 'Content-Type: text/plain;charset=UTF-8\r\n' : '') +
    'Origin: http://evil.example\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n' +
    body
  );
}

t.test('the parser: an HTTP line is refused whole, at whatever point the bytes are split', async (t) => {
  for (const line of [
    'POST / HTTP/1.1',
    'GET /x?a=b HTTP/1.0',
    'put /a"b HTTP/2',
    'Host: localhost',
    'HOST:x',
    'post',
    '*3 / HTTP/1.1',
    '$3 / HTTP/1.1',
  ]) {
    t.ok(isHttpLine(Buffer.from(line)), `HTTP: ${line}`);
  }
  for (const line of ['GET key', 'SET k HTTP', 'PING', 'hostname: x', 'GET / HTTP', 'postal code']) {
    t.notOk(isHttpLine(Buffer.from(line)), `not HTTP: ${line}`);
  }
  const bytes = Buffer.from(`${browserPost(true)}${browserPost(false)}`);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const p = new RespParser();
    p.feed(bytes.subarray(0, cut));
    const first = p.next();
    p.feed(bytes.subarray(cut));
    const second = first === null ? p.next() : first;
    if (!(second instanceof CrossProtocol)) {
      t.fail(`split at ${cut}: ${JSON.stringify(second)}`);
      return;
    }
    t.equal(p.fast(), 0, 'the fast path never sees it');
  }
  t.pass('every split of two browser POSTs ends at the request line');
});

t.test('a browser POST with Redis commands in its body: closed, nothing run, logged and counted', async (t) => {
  const { server, logs, c } = await attackTarget(t);
  const counter = receivedCounter(server);
  const port = server.context.port;
  const before = server.context.stats.commands;
  const requests = [
    ['with Content-Type', browserPost(true)],
    ['without Content-Type', browserPost(false)],
    ['keep-alive, twice', browserPost(true) + browserPost(false)],
    ['a GET', 'GET / HTTP/1.1\r\nHost: 127.0.0.1:6379\r\n\r\n'],
    ['a Host: line after RESP-looking lines', 'PUT /x HTTP/1.1\r\nX-A: 1\r\nHost: a\r\n\r\nSET canary hacked\r\n'],
  ] as const;
  for (const [what, text] of requests) {
    const got = await sendSplit(port, counter, [Buffer.from(text)]);
    t.equal(got, '', `${what}: closed without a reply`);
  }
  await untouched(t, c, server, before, 'whole requests');
  // Every split point of a POST whose body is one FLUSHALL, in two writes, each read by the server before the next.
  const post = Buffer.from(browserPost(false, '*1\r\n$8\r\nFLUSHALL\r\nSET canary hacked\r\n'));
  for (let cut = 1; cut < post.length; cut++) {
    const got = await sendSplit(port, counter, [post.subarray(0, cut), post.subarray(cut)]);
    if (got !== '') t.fail(`split at ${cut} got a reply: ${JSON.stringify(got)}`);
  }
  const before2 = server.context.stats.commands;
  await untouched(t, c, server, before2, 'every split');
  const attacks = requests.length + post.length - 1;
  t.equal(await infoStat(c, 'cross_protocol_requests_refused'), attacks, 'INFO stats counts each refused request');
  await logs.waitFor(attacks);
  const line = logs.lines[0]!;
  t.match(line.msg, /^Possible SECURITY ATTACK detected/, 'logged as Redis words it');
  t.match(line.obj.remote, /^127\.0\.0\.1:\d+$/, 'with the remote address');
});

t.test('commands before an HTTP request on the same connection run; nothing from its request line on does', async (t) => {
  const { server, c } = await attackTarget(t);
  const r = new Raw(server.context.port);
  r.send(`SET before 1\r\n${browserPost(true)}SET after 1\r\n`);
  await r.closedByServer();
  t.equal(String(await c.call('GET', 'before')), '1');
  t.equal(await c.call('GET', 'after'), null);
  t.equal(String(await c.call('GET', 'canary')), 'original');
});

t.test('a fuzz of HTTP-shaped requests with RESP commands inside: none runs', async (t) => {
  const { server, c } = await attackTarget(t);
  const counter = receivedCounter(server);
  const port = server.context.port;
  const before = server.context.stats.commands;
  const rand = prng(20261207);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const commands = [
    'SET canary hacked\r\n',
    'FLUSHALL\r\n',
    'REPLICAOF 127.0.0.1 1\r\n',
    '*1\r\n$8\r\nFLUSHALL\r\n',
    '*3\r\n$3\r\nSET\r\n$6\r\ncanary\r\n$6\r\nhacked\r\n',
    '*3\r\n$9\r\nREPLICAOF\r\n$9\r\n127.0.0.1\r\n$1\r\n1\r\n',
    'DEL canary\r\n',
  ];
  const cases = 150;
  for (let i = 0; i < cases; i++) {
    const method =
      rand() < 0.6
        ? pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'get', 'Post'])
        : Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pick([...tchars])).join('');
    const path = `/${Array.from({ length: Math.floor(rand() * 20) }, () => pick([...'abc/?=&%"\'*$\\:.'])).join('')}`;
    const headers = Array.from({ length: Math.floor(rand() * 4) }, () => `X-${pick(['A', 'Foo', 'Set'])}: ${pick(commands).trim()}\r\n`);
    if (rand() < 0.8) headers.splice(Math.floor(rand() * (headers.length + 1)), 0, 'Host: 127.0.0.1:6379\r\n');
    const body = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(commands)).join('');
    const text = Buffer.from(`${method} ${path} HTTP/1.${pick(['0', '1'])}\r\n${headers.join('')}\r\n${body}`);
    const cut = Math.floor(rand() * text.length);
    const got = await sendSplit(port, counter, cut === 0 ? [text] : [text.subarray(0, cut), text.subarray(cut)]);
    if (got !== '') t.fail(`${JSON.stringify(text.toString('latin1'))} got ${JSON.stringify(got)}`);
  }
  await untouched(t, c, server, before, `${cases} requests`);
  t.equal(server.context.stats.crossProtocol, cases, 'each refused as HTTP');
});

t.test('checkPassword compares digests: right, wrong, other lengths, bytes', async (t) => {
  t.ok(checkPassword('secret', 'secret'));
  t.ok(checkPassword(Buffer.from('secret'), 'secret'));
  t.notOk(checkPassword('secreT', 'secret'));
  t.notOk(checkPassword('', 'secret'));
  t.notOk(checkPassword('secret-and-more', 'secret'));
});

t.test('AuthFailures: counted per surface, one warning per interval with the failures left out', async (t) => {
  const logs = new Logs();
  let now = 5000;
  const failures = new AuthFailures({ log: logs.log, now: () => now });
  failures.record('resp', '10.0.0.1:1');
  for (let i = 0; i < 4; i++) failures.record('resp', '10.0.0.1:1');
  failures.record('rest', '10.0.0.2:2');
  t.equal(logs.lines.length, 1, 'one line within the interval');
  now += 1000;
  failures.record('rest', '10.0.0.2:2');
  t.equal(logs.lines.length, 2);
  t.same(logs.lines[1]!.obj, { event: 'auth-failure', surface: 'rest', remote: '10.0.0.2:2', suppressed: 5 });
  t.match(logs.lines[1]!.msg, /5 more failures/);
  t.same(
    [...failures.counts()],
    [
      ['resp', 5],
      ['rest', 2],
    ],
  );
});

t.test('AUTH and HELLO AUTH failures: WRONGPASS, INFO acl_access_denied_auth, the metric, rate-limited warnings', async (t) => {
  const cluster = await startCluster(t, { shards: 1 });
  const logs = new Logs();
  let now = 0;
  const authFailures = new AuthFailures({ log: logs.log, now: () => now });
  const server = await startResp(t, cluster, { password: 'secret', authFailures, log: logs.log });
  const r = new Raw(server.context.port);
  t.teardown(() => r.end());
  r.send('AUTH wrong\r\nAUTH default wrong\r\nAUTH bob secret\r\nHELLO 3 AUTH default nope\r\nGET k\r\n');
  const wrong = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
  await check(t, r, `${wrong.repeat(4)}-NOAUTH Authentication required.\r\n`);
  t.equal(logs.lines.length, 1, 'four failures in one second: one warning');
  t.match(logs.lines[0]!.obj, { event: 'auth-failure', surface: 'resp', remote: /^127\.0\.0\.1:\d+$/ });
  now = 1500;
  r.send('AUTH again\r\nAUTH secret\r\nINFO stats\r\n');
  await check(t, r, `${wrong}+OK\r\n`);
  const info = await r.bulk();
  t.match(info, /acl_access_denied_auth:5\r\n/);
  t.equal(logs.lines.length, 2);
  t.equal(logs.lines[1]!.obj.suppressed, 3, 'the next warning says how many were left out');
  authFailures.record('rest', '127.0.0.1:9');
  const metrics = await createMetrics(cluster, server.context).getSingleMetricAsString('shardcache_auth_failures_total');
  t.match(metrics, /shardcache_auth_failures_total\{surface="resp"\} 5/);
  t.match(metrics, /shardcache_auth_failures_total\{surface="rest"\} 1/, 'whichever surface recorded it');
});

t.test('isLoopback and isLoopbackHost', async (t) => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) t.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '0.0.0.0', '::', '::ffff:10.0.0.1', '128.0.0.1', '1270.0.0.1', undefined, ''])
    t.notOk(isLoopback(a), String(a));
  for (const h of ['127.0.0.1', 'localhost', '[::1]', '::1']) t.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) t.notOk(isLoopbackHost(h), h);
});

t.test('protected mode: a client from outside gets -DENIED without a password, not with one or when it is off', async (t) => {
  const cluster = await startCluster(t, { shards: 1 });
  const remote = (): boolean => false;
  const guarded = await startResp(t, cluster, { isLocal: remote });
  const r = new Raw(guarded.context.port);
  r.send('SET canary hacked\r\n');
  await check(t, r, `-${PROTECTED_MODE_MESSAGE}\r\n`, 'the DENIED text');
  t.match(PROTECTED_MODE_MESSAGE, /^DENIED .*--requirepass.*--protected-mode no/);
  await r.closedByServer();
  t.equal(guarded.context.sessions.size, 0, 'no session was made');
  const c = await respClient(t, (await startResp(t, cluster, {})).context.port);
  t.equal(await c.call('GET', 'canary'), null, 'nothing ran');
  t.same(((await c.call('CONFIG', 'GET', 'protected-mode')) as Buffer[]).map(String), ['protected-mode', 'yes']);

  const withPass = await startResp(t, cluster, { isLocal: remote, password: 'pw' });
  const r2 = new Raw(withPass.context.port);
  t.teardown(() => r2.end());
  r2.send('PING\r\nAUTH pw\r\nPING\r\n');
  await check(t, r2, '-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n', 'with a password: served');

  const off = await startResp(t, cluster, { isLocal: remote, protectedMode: false });
  const r3 = new Raw(off.context.port);
  t.teardown(() => r3.end());
  r3.send('PING\r\nCONFIG GET protected-mode\r\n');
  await check(t, r3, '+PONG\r\n*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n', 'protected mode off: served');
});

t.test('a maxclients flood: refused with the error and closed, no session made, even when the client never closes', async (t) => {
  const cluster = await startCluster(t, { shards: 1 });
  const server = await startResp(t, cluster, { maxClients: 2 });
  const port = server.context.port;
  const a = await respClient(t, port);
  const b = await respClient(t, port);
  t.equal(await a.call('PING'), 'PONG');
  t.equal(await b.call('PING'), 'PONG');
  let serverClosed = 0;
  let closedWaiter: (() => void) | null = null;
  server.on('connection', (s: Socket) =>
    s.on('close', () => {
      serverClosed++;
      closedWaiter?.();
    }),
  );
  const flood = 300;
  const socks: Socket[] = [];
  const replies = await Promise.all(
    Array.from({ length: flood }, async () => {
      // Half-open allowed: the client never ends its side; the server must close anyway.
      const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      socks.push(s);
      s.on('error', () => undefined);
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      await once(s, 'end');
      return got;
    }),
  );
  t.teardown(() => {
    for (const s of socks) s.destroy();
  });
  t.ok(
    replies.every((r) => r === '-ERR max number of clients reached\r\n'),
    'each got the error',
  );
  while (serverClosed < flood) await new Promise<void>((r) => (closedWaiter = r));
  t.equal(serverClosed, flood, 'the server closed every refused socket itself');
  t.equal(server.context.sessions.size, 2, 'no session for any of them');
  t.equal(server.context.stats.rejected, flood);
  t.equal(await a.call('PING'), 'PONG', 'the clients within the limit are served');
});
