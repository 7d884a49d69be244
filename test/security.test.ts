// The attacks found against `shardcache start`, replayed against a real server process on
// loopback: each must be refused, and the data, the role and the membership must be as before.
import t from 'tap';
import { run, waitFor } from './helpers/cli.js';

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
  const failures = r
    .err()
    .split('\n')
    .filter((l) => l.includes('"auth_failure"') || l.includes('"auth-failure"'));
  t.ok(failures.length >= 1, 'wrong passwords are logged');
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
});
