// The REST API against an attacker and a careless client: the password on every route, no
// browser-borne request (foreign Origin, rebound Host), exact paths, strict percent-encoding, a
// bound on request bodies in flight, graceful close. Each refusal leaves the data as it was.
import { request } from 'node:http';
import { once } from 'node:events';
import { connect } from 'node:net';
import t from 'tap';
import { closeRestServer, createRestServer, listen } from '../src/server/rest.js';
import { decodePercent, hostAllowed, parseTarget, presentedPassword } from '../src/server/rest-guard.js';
import { AuthFailures } from '../src/server/auth.js';
import { serveRest, startCluster } from './helpers/cluster.js';
import { cli, cliWithEnv, clis, oneLineError } from './helpers/cli.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request exactly as written (no URL normalisation by a client library). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

t.test('the pieces: percent-decoding, targets, Host names, credentials', async (t) => {
  t.same(decodePercent('a%20b%FF%00'), Buffer.from([0x61, 0x20, 0x62, 0xff, 0x00]));
  t.same(decodePercent('a+b', true), Buffer.from('a b'));
  t.same(decodePercent('a+b'), Buffer.from('a+b'));
  for (const bad of ['%', '%Z', '%ZZ', 'a%2', '%%41', '%g0']) t.equal(decodePercent(bad), null, `"${bad}" is malformed`);

  t.same(parseTarget('/get?key=a%20b&key=second&value=x+y'), {
    path: '/get',
    query: new Map([
      ['key', Buffer.from('a b')],
      ['value', Buffer.from('x y')],
    ]),
  });
  t.same(parseTarget('/cluster/./shards'), { path: '/cluster/./shards', query: new Map() }, 'dot segments kept as sent');
  t.equal(parseTarget('/get?key=%ZZ'), 'Malformed percent-encoding in the query');
  t.equal(parseTarget('/k%ZZ'), 'Malformed percent-encoding in the path');
  t.equal(parseTarget('http://evil.example/get'), 'Malformed request URL', 'absolute-form targets are not taken');

  t.ok(hostAllowed('localhost:8080', '127.0.0.1', []));
  t.ok(hostAllowed('LOCALHOST.', '127.0.0.1', []));
  t.ok(hostAllowed('127.0.0.1:8080', '127.0.0.1', []));
  t.ok(hostAllowed('127.0.0.1', '::ffff:127.0.0.1', []), 'IPv4-mapped local address');
  t.ok(hostAllowed('[::1]:8080', '::1', []));
  t.ok(hostAllowed(undefined, '127.0.0.1', []), 'no Host: HTTP/1.0, no browser');
  t.ok(hostAllowed('cache.internal:8080', '127.0.0.1', ['cache.internal']));
  t.notOk(hostAllowed('evil.example:8080', '127.0.0.1', []), 'a rebound name');
  t.notOk(hostAllowed('10.1.2.3', '127.0.0.1', []), 'an address the connection did not come in on');
  t.notOk(hostAllowed('[::1', '::1', []));

  t.equal(presentedPassword(basic('default', 'p:w')), 'p:w', 'a password may hold a colon');
  t.equal(presentedPassword(basic('', 'pw')), 'pw');
  t.equal(presentedPassword(basic('alice', 'pw')), null, 'only the default user');
  t.equal(presentedPassword('Bearer tok en'), 'tok en');
  t.equal(presentedPassword('Digest x'), null);
  t.equal(presentedPassword('Basic'), null);
  t.equal(presentedPassword(undefined), null);
});

t.test('with a password every route needs it; /healthz says only ok without it', async (t) => {
  const cluster = await startCluster(t);
  const logged: { remote: string; suppressed: number }[] = [];
  // A clock that stands still: after the first, every failure is counted but not logged.
  const authFailures = new AuthFailures({ log: { warn: (o) => logged.push(o as (typeof logged)[number]) }, now: () => 0 });
  const base = await serveRest(t, cluster, { password: 's3cret', authFailures });
  await cluster.set('k', 'v');
  const routes: [string, string][] = [
    ['GET', '/'],
    ['GET', '/get?key=k'],
    ['POST', '/set?key=k&value=stolen'],
    ['DELETE', '/del?key=k'],
    ['GET', '/keys/k'],
    ['PUT', '/keys/k'],
    ['DELETE', '/keys/k'],
    ['GET', '/metrics'],
    ['GET', '/cluster'],
    ['POST', '/cluster/shards'],
    ['DELETE', '/cluster/shards/1'],
    ['GET', '/nowhere'],
  ];
  for (const [method, path] of routes) {
    const none = await raw(base, method, path, {}, method === 'PUT' ? 'stolen' : undefined);
    t.equal(none.status, 401, `${method} ${path} without credentials`);
    t.equal(none.headers['www-authenticate'], 'Basic realm="shardcache", charset="UTF-8"');
    t.same(JSON.parse(none.body), { error: 'Authentication required' });
    const wrong = await raw(base, method, path, { authorization: basic('default', 'guess') });
    t.equal(wrong.status, 401, `${method} ${path} with a wrong password`);
    t.same(JSON.parse(wrong.body), { error: 'Invalid username-password pair' });
  }
  t.equal(authFailures.count('rest'), routes.length, 'each wrong password counted (missing ones are not attempts)');
  t.equal(logged.length, 1, 'logged once within the interval');
  t.match(logged[0], { surface: 'rest', remote: /^127\.0\.0\.1:\d+$/ });
  t.equal(await cluster.get('k'), 'v', 'nothing changed');
  t.equal(cluster.shards().length, 3, 'no shard added or removed');

  const health = await raw(base, 'GET', '/healthz');
  t.equal(health.status, 200);
  t.same(JSON.parse(health.body), { status: 'ok' }, 'status only');

  const bearer = await raw(base, 'GET', '/get?key=k', { authorization: 'Bearer s3cret' });
  t.same([bearer.status, JSON.parse(bearer.body).value], [200, 'v']);
  const viaBasic = await raw(base, 'PUT', '/keys/k', { authorization: basic('default', 's3cret') }, 'new');
  t.equal(viaBasic.status, 201);
  t.equal(await cluster.get('k'), 'new');
  const full = await raw(base, 'GET', '/healthz', { authorization: 'Bearer s3cret' });
  t.match(JSON.parse(full.body), { status: 'ok', state: 'ready', shards: Array });
  t.equal((await raw(base, 'GET', '/metrics', { authorization: 'Bearer s3cret' })).status, 200);
});

t.test('no browser-borne request: foreign Origin, rebound Host, cross-site fetch', async (t) => {
  const cluster = await startCluster(t);
  const base = await serveRest(t, cluster, { allowedHosts: ['Cache.Internal'], allowedOrigins: ['http://dash.example'] });
  const port = new URL(base).port;
  await cluster.set('k', 'v');
  const attacks: [string, string, Record<string, string>, number][] = [
    ['POST', '/set?key=k&value=evil', { origin: 'http://evil.example' }, 403],
    ['DELETE', '/del?key=k', { origin: 'null' }, 403],
    ['PUT', '/keys/k', { origin: 'https://127.0.0.1:1' }, 403],
    ['POST', '/cluster/shards', { origin: 'http://evil.example' }, 403],
    ['GET', '/get?key=k', { host: `evil.example:${port}` }, 421],
    ['POST', '/set?key=k&value=evil', { host: 'evil.example' }, 421],
    ['GET', '/cluster', { host: `evil.example:${port}`, origin: `http://evil.example:${port}` }, 421],
    ['POST', '/set?key=k&value=evil', { 'sec-fetch-site': 'cross-site' }, 403],
  ];
  for (const [method, path, headers, status] of attacks) {
    const r = await raw(base, method, path, headers, method === 'PUT' ? 'evil' : undefined);
    t.equal(r.status, status, `${method} ${path} ${JSON.stringify(headers)}`);
    t.type(JSON.parse(r.body).error, 'string');
    t.equal(r.headers['access-control-allow-origin'], undefined, 'no CORS');
  }
  t.equal(await cluster.get('k'), 'v', 'data unchanged');
  t.equal(cluster.shards().length, 3, 'membership unchanged');

  const own = await raw(base, 'POST', '/set?key=k&value=own', { origin: `http://127.0.0.1:${port}` });
  t.equal(own.status, 201, "the server's own origin");
  t.equal((await raw(base, 'GET', '/get?key=k', { host: `localhost:${port}` })).status, 200, 'localhost');
  t.equal((await raw(base, 'GET', '/get?key=k', { host: `cache.internal:${port}` })).status, 200, '--allowed-hosts (any case)');

  const pre = await raw(base, 'OPTIONS', '/keys/k', { origin: 'http://dash.example', 'access-control-request-method': 'PUT' });
  t.equal(pre.status, 204, 'preflight of an allowed origin');
  t.equal(pre.headers['access-control-allow-origin'], 'http://dash.example');
  t.match(pre.headers['access-control-allow-methods'], /PUT/);
  const cors = await raw(base, 'GET', '/get?key=k', { origin: 'http://dash.example' });
  t.same([cors.status, cors.headers['access-control-allow-origin'], cors.headers.vary], [200, 'http://dash.example', 'Origin']);
  t.equal((await raw(base, 'OPTIONS', '/keys/k', { origin: 'http://evil.example' })).status, 403, 'no preflight for others');
  t.equal((await raw(base, 'OPTIONS', '/keys/k')).status, 405, 'OPTIONS without CORS');
});

t.test('paths are exact and bad percent-encoding is a 400 on every route', async (t) => {
  const cluster = await startCluster(t);
  const base = await serveRest(t, cluster);
  await cluster.set('k', 'v');
  for (const path of ['/cluster/./shards', '/x/../cluster/shards', '/cluster/shards/', '/./set?key=a&value=b', '/%73et?key=a&value=b']) {
    const r = await raw(base, 'POST', path);
    t.same([r.status, JSON.parse(r.body)], [404, { error: 'Endpoint not found' }], `POST ${path} is no route`);
  }
  t.equal(cluster.shards().length, 3, 'no shard added');
  t.equal(await cluster.get('a'), null, 'nothing set');
  const malformed: [string, string][] = [
    ['GET', '/get?key=%ZZ'],
    ['POST', '/set?key=a&value=%E'],
    ['DELETE', '/del?key=%'],
    ['GET', '/keys/%ZZ'],
    ['DELETE', '/cluster/shards/%ZZ'],
    ['GET', '/%ZZ'],
    ['GET', '/healthz?x=%Z1'],
  ];
  for (const [method, path] of malformed) {
    const r = await raw(base, method, path);
    t.equal(r.status, 400, `${method} ${path}`);
    t.match(JSON.parse(r.body).error, /^Malformed percent-encoding/);
  }
  const notText = await raw(base, 'GET', '/get?key=%FF');
  t.same(
    [notText.status, JSON.parse(notText.body).error],
    [400, "'key' and 'value' must be UTF-8 text (use /keys/ for binary keys and values)"],
  );
  t.equal((await raw(base, 'GET', '/get?key=k%20')).status, 404, 'a well-formed escape is decoded');
  t.equal(await cluster.get('k'), 'v');
});

t.test('request bodies in flight are bounded in total bytes (503 past it)', async (t) => {
  const cluster = await startCluster(t, { maxValueBytes: 1024 * 1024 });
  // The bound cannot be below the largest value: 1 MiB here.
  const server = createRestServer(cluster, { maxBodyBytesInFlight: 1 });
  const addr = await listen(server, 0, '127.0.0.1');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const base = `http://127.0.0.1:${addr.port}`;
  // A first upload declares 1 MiB and sends half of it: its bytes are reserved while it lasts.
  const first = connect(addr.port, '127.0.0.1');
  await new Promise((resolve) => first.once('connect', resolve));
  // The server's own handler runs first: once this listener runs, the budget is taken.
  const arrived = once(server, 'request');
  first.write(`PUT /keys/big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${1024 * 1024}\r\n\r\n`);
  first.write(Buffer.alloc(512 * 1024, 0x61));
  await arrived;
  const second = await raw(base, 'PUT', '/keys/other', {}, Buffer.alloc(1000, 0x62));
  t.equal(second.status, 503, 'no room for a second body');
  t.equal(second.headers['retry-after'], '1');
  t.match(JSON.parse(second.body).error, /Too many request bodies in flight/);
  const answer = new Promise<string>((resolve) => {
    let text = '';
    first.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\r\n\r\n')) resolve(text);
    });
  });
  first.write(Buffer.alloc(512 * 1024, 0x61));
  t.match(await answer, /^HTTP\/1\.1 201/, 'the first upload completes');
  first.destroy();
  t.equal(((await cluster.get('big')) as string).length, 1024 * 1024);
  const after = await raw(base, 'PUT', '/keys/other', {}, Buffer.alloc(1000, 0x62));
  t.equal(after.status, 201, 'its bytes were given back');
  const tooBig = await raw(base, 'PUT', '/keys/huge', {}, Buffer.alloc(1024 * 1024 + 1));
  t.equal(tooBig.status, 413);
});

t.test('GET /cluster counts keys once with replicas', async (t) => {
  const cluster = await startCluster(t, { shards: 3, replicas: 2 });
  const base = await serveRest(t, cluster);
  await cluster.mset(Array.from({ length: 300 }, (_, i) => [`k${i}`, 'v'] as [string, string]));
  const view = JSON.parse((await raw(base, 'GET', '/cluster')).body) as { keys: number; replicas: number; shards: { keys: number }[] };
  t.equal(view.replicas, 2);
  t.equal(view.keys, 300);
  t.equal(
    view.shards.reduce((a, s) => a + s.keys, 0),
    600,
    'the shards hold two copies of each',
  );
  const status = await cli('cluster', 'status', '--url', base);
  t.match(status.out, /^epoch \d+, 3 shards, 300 keys \(600 copies\), /);
});

t.test('the CLI sends the password: --password, SHARDCACHE_PASSWORD, user:pass@ in --url', async (t) => {
  const cluster = await startCluster(t);
  const base = await serveRest(t, cluster, { password: 'pw' });
  const withCreds = base.replace('http://', 'http://default:pw@');
  const flag = await cli('set', 'a', '1', '--url', base, '--password', 'pw');
  const [url, noUser] = await clis([
    ['get', 'a', '--url', withCreds],
    ['cluster', 'status', '--url', base.replace('http://', 'http://:pw@'), '--json'],
  ]);
  t.same([flag.code, flag.out], [0, 'OK\n'], '--password');
  t.same([url!.code, url!.out], [0, '1'], 'user:pass@');
  t.equal(noUser!.code, 0, ':pass@');
  const env = await cliWithEnv({ SHARDCACHE_PASSWORD: 'pw' }, 'del', 'a', '--url', base);
  t.same([env.code, env.out], [0, 'OK\n'], 'SHARDCACHE_PASSWORD');
  const [missing, wrong, wrongUrl] = await clis([
    ['get', 'a', '--url', base],
    ['cluster', 'add', '--url', base, '--password', 'nope'],
    ['get', 'a', '--url', base.replace('http://', 'http://default:nope@')],
  ]);
  oneLineError(t, missing!, /the server needs a password: pass --password, set SHARDCACHE_PASSWORD/, 'no password');
  oneLineError(t, wrong!, /the server refused the password \(HTTP 401\)/, 'wrong password');
  oneLineError(t, wrongUrl!, /the server refused the password/, 'wrong password in the URL');
  t.notMatch(wrongUrl!.err, /nope/, 'the password is never printed');
  t.equal(cluster.shards().length, 3);
  const bench = await cli('bench', '--target', base, '--ops', '200', '--keys', '50', '--connections', '2', '--threads', '1', '--json');
  t.equal(bench.code, 1, 'bench: no password');
  t.match(bench.err, /the server needs a password/);
  const benchOk = await cliWithEnv(
    { SHARDCACHE_PASSWORD: 'pw' },
    ...['bench', '--target', base, '--ops', '200', '--keys', '50', '--connections', '2', '--threads', '1', '--json'],
  );
  t.equal(benchOk.code, 0, `bench with SHARDCACHE_PASSWORD: ${benchOk.err}`);
  t.equal(JSON.parse(benchOk.out).errors, 0);
});

t.test('closeRestServer answers the requests in flight, then closes', async (t) => {
  const cluster = await startCluster(t);
  const server = createRestServer(cluster);
  const addr = await listen(server, 0, '127.0.0.1');
  // An upload in flight: its head sent, its body not yet.
  const sock = connect(addr.port, '127.0.0.1');
  await new Promise((resolve) => sock.once('connect', resolve));
  sock.write('PUT /keys/late HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\n');
  await once(server, 'request');
  const closed = closeRestServer(server, 10_000);
  const reply = new Promise<string>((resolve) => {
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString()));
    sock.on('close', () => resolve(text));
  });
  sock.write('body');
  t.match(await reply, /^HTTP\/1\.1 201 /, 'answered, then the connection closed');
  await closed;
  t.equal(await cluster.get('late'), 'body');
  t.equal(server.listening, false);
});

t.test('protected mode: without a password only loopback clients are served', async (t) => {
  const cluster = await startCluster(t);
  await cluster.set('k', 'v');
  // Every client stands in for a remote one.
  const remote = (): boolean => false;
  const open = await serveRest(t, cluster, { isLocal: remote });
  const denied = await raw(open, 'GET', '/get?key=k');
  t.equal(denied.status, 403);
  t.match(JSON.parse(denied.body).error, /^DENIED shardcache is running in protected mode/);
  t.equal((await raw(open, 'POST', '/set?key=k&value=x')).status, 403);
  t.equal((await raw(open, 'GET', '/healthz')).status, 403, 'not even health');
  const guarded = await serveRest(t, cluster, { isLocal: remote, password: 'pw' });
  t.equal((await raw(guarded, 'GET', '/get?key=k', { authorization: 'Bearer pw' })).status, 200, 'a password lifts it');
  const off = await serveRest(t, cluster, { isLocal: remote, protectedMode: false });
  t.equal((await raw(off, 'GET', '/get?key=k')).status, 200, '--protected-mode no');
  const local = await serveRest(t, cluster);
  t.equal((await raw(local, 'GET', '/get?key=k')).status, 200, 'loopback clients are served');
  t.equal(await cluster.get('k'), 'v');
});
