// The seed REST contract (SPEC §1a) byte for byte: status codes, JSON shapes, node names, errors.
import { request } from 'node:http';
import t from 'tap';
import { statusOf } from '../src/server/rest.js';
import { CacheError } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import { serveRest as serve, startCluster } from './helpers/cluster.js';

async function call(base: string, method: string, path: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(base + path, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

t.test('seed contract', async (t) => {
  const cluster = await startCluster(t);
  const base = await serve(t, cluster);
  const node = cluster.ownerOf('foo');
  t.match(node, /^node-[123]$/);

  const cases: [string, string, number, string][] = [
    ['GET', '/', 200, JSON.stringify({ message: 'shardcache distributed in-memory cache', version: VERSION })],
    ['POST', '/set?key=foo&value=bar', 201, `{"message":"Value set successfully","key":"foo","node":"${node}"}`],
    ['GET', '/get?key=foo', 200, `{"key":"foo","value":"bar","node":"${node}"}`],
    ['GET', '/get?key=nope', 404, '{"error":"Key not found"}'],
    ['GET', '/get', 400, `{"error":"Missing 'key' parameter"}`],
    ['GET', '/get?key=', 400, `{"error":"Missing 'key' parameter"}`],
    ['POST', '/set?key=foo', 400, `{"error":"Both 'key' and 'value' parameters are required"}`],
    ['POST', '/set?value=bar', 400, `{"error":"Both 'key' and 'value' parameters are required"}`],
    ['POST', '/set?key=foo&value=', 400, `{"error":"Both 'key' and 'value' parameters are required"}`],
    ['GET', '/set?key=foo&value=bar', 405, '{"error":"Method not allowed"}'],
    ['PUT', '/get?key=foo', 405, '{"error":"Method not allowed"}'],
    ['POST', '/del?key=foo', 405, '{"error":"Method not allowed"}'],
    ['POST', '/', 405, '{"error":"Method not allowed"}'],
    ['DELETE', '/del', 400, `{"error":"Missing 'key' parameter"}`],
    ['DELETE', '/del?key=foo', 200, `{"message":"Value deleted successfully","key":"foo","node":"${node}"}`],
    ['DELETE', '/del?key=foo', 404, '{"error":"Key not found"}'],
    ['GET', '/get?key=foo', 404, '{"error":"Key not found"}'],
    ['GET', '/nowhere', 404, '{"error":"Endpoint not found"}'],
    ['POST', '/set/extra?key=a&value=b', 404, '{"error":"Endpoint not found"}'],
  ];
  for (const [method, path, status, body] of cases) {
    const r = await call(base, method, path);
    t.equal(r.status, status, `${method} ${path} status`);
    t.equal(r.body, body, `${method} ${path} body`);
    t.equal(r.type, 'application/json', `${method} ${path} is JSON`);
  }
});

t.test('node names the owner, for many keys, and values round-trip encoded', async (t) => {
  const cluster = await startCluster(t);
  const base = await serve(t, cluster);
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const key = `user ${i}/é&=`;
    const q = `key=${encodeURIComponent(key)}&value=${encodeURIComponent(`v ${i} ✓`)}`;
    const set = JSON.parse((await call(base, 'POST', `/set?${q}`)).body) as { node: string; key: string };
    t.equal(set.key, key);
    t.equal(set.node, cluster.ownerOf(key));
    seen.add(set.node);
    const got = JSON.parse((await call(base, 'GET', `/get?key=${encodeURIComponent(key)}`)).body) as { value: string };
    t.equal(got.value, `v ${i} ✓`);
  }
  t.equal(seen.size, 3, 'keys land on every node');
});

t.test('errors from the cluster map to statuses, and the server keeps serving', async (t) => {
  const cluster = await startCluster(t, { shards: 1, maxMemoryBytes: 2048 });
  const base = await serve(t, cluster);
  let r = await call(base, 'POST', `/set?key=big&value=${'x'.repeat(4000)}`);
  t.equal(r.status, 507, 'OOM → 507');
  t.match(JSON.parse(r.body), { error: /maxmemory/ });
  r = await call(base, 'POST', '/set?key=ok&value=1');
  t.equal(r.status, 201, 'still serving');
  await cluster.close();
  r = await call(base, 'GET', '/get?key=ok');
  t.equal(r.status, 503, 'closed cluster → 503');
  t.same(JSON.parse(r.body), { error: 'the cluster is closed' });
  t.equal(statusOf(new CacheError('EINVAL', 'x')), 400);
  t.equal(statusOf(new CacheError('SHARD_CRASHED', 'x')), 503);
  t.equal(statusOf(new CacheError('INTERNAL', 'x')), 500);
  t.equal(statusOf(new Error('x')), 500);
});

t.test('/keys/:key: raw values, binary keys, TTLs, limits', async (t) => {
  const cluster = await startCluster(t, { maxValueBytes: 1024 });
  const base = await serve(t, cluster);
  const put = (path: string, body: Uint8Array | string) => fetch(base + path, { method: 'PUT', body });
  const binary = Buffer.from([0, 1, 2, 0xff, 0xfe]);
  let res = await put('/keys/bin%2Fkey', binary);
  t.equal(res.status, 201);
  t.same(await res.json(), { message: 'Value set successfully', key: 'bin/key', node: cluster.ownerOf('bin/key') });
  res = await fetch(`${base}/keys/bin%2Fkey`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'application/octet-stream');
  t.same(Buffer.from(await res.arrayBuffer()), binary, 'the value, byte for byte');
  t.same(await cluster.get('bin/key'), binary, 'the same key and value as the API sees');
  // A key that is not UTF-8: percent-encoded bytes.
  t.equal((await put('/keys/%FF%00x', 'v')).status, 201);
  t.equal(await cluster.get(Buffer.from([0xff, 0, 0x78])), 'v');
  t.equal((await put('/keys/empty', '')).status, 201, 'an empty value is a value here');
  t.equal((await fetch(`${base}/keys/empty`)).headers.get('content-length'), '0');
  t.equal((await put('/keys/t?ttl=100', 'v')).status, 201);
  t.equal(await cluster.ttl('t'), 100);
  res = await put('/keys/t?ttl=0', 'v');
  t.equal(res.status, 400);
  t.same(await res.json(), { error: "'ttl' must be a positive whole number of seconds" });
  res = await put('/keys/big', 'x'.repeat(1025));
  t.equal(res.status, 413);
  t.same(await res.json(), { error: 'Value larger than the limit of 1024 bytes' });
  t.equal(await cluster.get('big'), null);
  res = await fetch(`${base}/keys/%zz`);
  t.equal(res.status, 400);
  t.same(await res.json(), { error: 'Malformed percent-encoding in the path' });
  res = await fetch(`${base}/keys/nope`);
  t.equal(res.status, 404);
  t.same(await res.json(), { error: 'Key not found' });
  res = await fetch(`${base}/keys/bin%2Fkey`, { method: 'DELETE' });
  t.same(await res.json(), { message: 'Value deleted successfully', key: 'bin/key', node: cluster.ownerOf('bin/key') });
  t.equal((await fetch(`${base}/keys/bin%2Fkey`, { method: 'DELETE' })).status, 404);
  res = await fetch(`${base}/keys/x`, { method: 'POST', body: 'v' });
  t.equal(res.status, 405);
  t.equal(res.headers.get('allow'), 'GET, HEAD, PUT, DELETE');
  t.equal((await fetch(`${base}/keys/`)).status, 404, 'no key, no route');
});

t.test('/healthz: 200 while every shard serves, 503 when one is down', async (t) => {
  const cluster = await startCluster(t, { shards: 2, faultInjection: true, maxBootFailures: 1 });
  const base = await serve(t, cluster);
  let res = await fetch(`${base}/healthz`);
  t.equal(res.status, 200);
  t.match(await res.json(), {
    status: 'ok',
    state: 'ready',
    shards: [
      { id: 1, state: 'ready' },
      { id: 2, state: 'ready' },
    ],
  });
  const down = new Promise<void>((resolve) => cluster.on('crash', (e) => !e.restarting && resolve()));
  cluster.injectFault(2, 'boot-loop');
  await down;
  res = await fetch(`${base}/healthz`);
  t.equal(res.status, 503);
  t.match(await res.json(), {
    status: 'degraded',
    shards: [
      { id: 1, state: 'ready' },
      { id: 2, state: 'down' },
    ],
  });
  t.equal((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
});

t.test('/keys/ takes the key from the raw path; HEAD; an announced oversized body is refused at once', async (t) => {
  const cluster = await startCluster(t, { shards: 1, maxValueBytes: 1024 });
  const base = await serve(t, cluster);
  const { port } = new URL(base);
  /** A request with the path exactly as given (fetch would resolve `.` and `..`). */
  const raw = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: Number(port), method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  t.equal((await raw('PUT', '/keys/..', 'dots')).status, 201);
  t.equal((await raw('PUT', '/keys/a\\b', 'slash')).status, 201);
  t.equal(await cluster.get('..'), 'dots', '".." is a key, not a path step');
  t.equal(await cluster.get('a\\b'), 'slash', 'a backslash stays one');
  t.equal((await raw('GET', '/keys/..')).body, 'dots');
  const head = await raw('HEAD', '/keys/..');
  t.same([head.status, head.headers['content-length'], head.body], [200, '4', ''], 'HEAD: the headers, no body');
  t.equal((await raw('HEAD', '/healthz')).status, 200);
  t.equal((await raw('HEAD', '/metrics')).status, 200);
  // 100 MB announced, a few bytes sent: the answer comes without waiting for the rest.
  const refused = await new Promise<{ status: number; connection: unknown }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: Number(port), method: 'PUT', path: '/keys/big', headers: { 'content-length': '100000000' } },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode!, connection: res.headers.connection });
      },
    );
    req.on('error', reject);
    req.write('x'.repeat(100));
  });
  t.same(refused, { status: 413, connection: 'close' });
  t.equal(await cluster.get('big'), null);
});

t.test('two metrics registries on one cluster both see dispatch', async (t) => {
  const cluster = await startCluster(t, { shards: 1 });
  const a = await serve(t, cluster);
  const b = await serve(t, cluster);
  for (let i = 0; i < 20; i++) await cluster.set(`k${i}`, 'v'); // writes: a read may be answered in place, with no dispatch
  for (const base of [a, b]) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const count = Number(/^shardcache_dispatch_seconds_count (\d+)$/m.exec(text)?.[1]);
    t.ok(count >= 20, `${base}: ${count} batches observed`);
  }
});
