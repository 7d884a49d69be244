// The attacks found against `shardcache start`, replayed against a real server process on
// loopback: each must be refused, and the data, the role and the membership must be as before.
import t from 'tap';
import { run, waitFor } from './helpers/cli.js';
import { Raw } from './helpers/resp.js';

const PASSWORD = 'correct horse';
const AUTH = { authorization: `Bearer ${PASSWORD}` };

/** One request exactly as written; fetch would resolve dot segments and refuse some headers. */
async function http(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('REST with --requirepass: no way in without the password, from a page, or by a dotted path', async (t) => {
  const r = run(['start', '--http-port', '0', '--port', '0', '--shards', '2', '--requirepass', PASSWORD]);
  t.teardown(() => r.child.kill('SIGKILL'));
  const [, base] = await waitFor(r, /REST (http:\/\/127\.0\.0\.1:\d+), RESP/);
  const port = new URL(base!).port;
  for (let i = 0; i < 20; i++) t.equal((await http(base!, 'PUT', `/keys/k${i}`, AUTH, `v${i}`)).status, 201);

  const noPassword: [string, string, string?][] = [
    ['GET', '/get?key=k1'],
    ['GET', '/keys/k1'],
    ['POST', '/set?key=k1&value=stolen'],
    ['PUT', '/keys/k2', 'stolen'],
    ['DELETE', '/del?key=k3'],
    ['DELETE', '/keys/k4'],
    ['POST', '/cluster/shards'],
    ['DELETE', '/cluster/shards/1'],
    ['GET', '/cluster'],
    ['GET', '/metrics'],
  ];
  for (const [method, path, body] of noPassword) {
    t.equal((await http(base!, method, path, {}, body)).status, 401, `${method} ${path} without the password`);
    t.equal((await http(base!, method, path, { authorization: 'Basic ZGVmYXVsdDpndWVzcw==' }, body)).status, 401, 'a guess');
  }
  t.same(JSON.parse((await http(base!, 'GET', '/healthz')).body), { status: 'ok' }, '/healthz tells only ok');

  // A page in a browser: its Origin, or its own name rebound to 127.0.0.1 in Host.
  const evil = { ...AUTH, origin: 'http://evil.example' };
  t.equal((await http(base!, 'POST', '/set?key=k1&value=evil', evil)).status, 403, 'foreign Origin');
  t.equal((await http(base!, 'POST', '/cluster/shards', evil)).status, 403, 'foreign Origin, membership');
  t.equal((await http(base!, 'GET', '/get?key=k1', { ...AUTH, host: `evil.example:${port}` })).status, 421, 'rebound Host');
  // Routes are exact: no dotted path reaches a membership route.
  t.equal((await http(base!, 'POST', '/cluster/./shards', AUTH)).status, 404);
  t.equal((await http(base!, 'GET', '/get?key=%ZZ', AUTH)).status, 400);

  for (let i = 0; i < 20; i++) {
    const got = await http(base!, 'GET', `/keys/k${i}`, AUTH);
    t.same([got.status, got.body], [200, `v${i}`], `k${i} as it was`);
  }
  const view = JSON.parse((await http(base!, 'GET', '/cluster', AUTH)).body) as { keys: number; shards: unknown[] };
  t.same([view.keys, view.shards.length], [20, 2], 'keys and membership as they were');
  t.match(r.err(), /"event":"auth-failure","surface":"rest"/, 'wrong passwords are logged');
  const metrics = (await http(base!, 'GET', '/metrics', AUTH)).body;
  t.match(metrics, /shardcache_auth_failures_total\{surface="rest"\} 10\n/, 'and counted');
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
});

t.test('RESP: a page cannot send commands, guesses are counted, and nothing changes', async (t) => {
  const r = run(['start', '--http-port', '0', '--port', '0', '--shards', '2', '--requirepass', PASSWORD]);
  t.teardown(() => r.child.kill('SIGKILL'));
  const [, base, port] = await waitFor(r, /REST (http:\/\/127\.0\.0\.1:\d+), RESP redis:\/\/127\.0\.0\.1:(\d+)/);
  const admin = new Raw(Number(port));
  t.teardown(() => admin.end());
  admin.command('AUTH', PASSWORD);
  admin.command('SET', 'canary', 'alive');
  t.equal(await admin.expect('+OK\r\n+OK\r\n'), '+OK\r\n+OK\r\n');

  // What fetch('http://127.0.0.1:PORT', {method: 'POST', body}) sends: the body holds commands,
  // the password included (a page may guess it), and a REPLICAOF to take the server over.
  const body = `AUTH ${PASSWORD}\r\nREPLICAOF 127.0.0.1 1\r\nFLUSHALL\r\nSET canary dead\r\n`;
  const page = new Raw(Number(port));
  page.send(
    `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://evil.example\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  await page.closedByServer();
  t.equal(await page.read(page.unread), '', 'closed without a word');
  t.match(r.err(), /Possible SECURITY ATTACK detected/, 'and logged');

  for (let i = 0; i < 5; i++) admin.command('AUTH', `guess${i}`);
  const wrong = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
  t.equal(await admin.expect(wrong.repeat(5)), wrong.repeat(5));
  admin.command('AUTH', PASSWORD);
  admin.command('ROLE');
  admin.command('GET', 'canary');
  admin.command('INFO', 'stats');
  t.equal(await admin.until('master'), '+OK\r\n*3\r\n$6\r\nmaster', 'still a leader');
  await admin.until('\r\n');
  await admin.until(':0\r\n*0\r\n');
  t.equal(await admin.bulk(), 'alive', 'data unchanged');
  t.match(await admin.bulk(), /acl_access_denied_auth:5\r\n/, 'guesses counted in INFO');
  const metrics = await fetch(`${base}/metrics`, { headers: AUTH });
  t.match(await metrics.text(), /shardcache_auth_failures_total\{surface="resp"\} 5\n/);
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
});
