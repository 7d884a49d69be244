// The seed REST contract (SPEC §1a) byte for byte: status codes, JSON shapes, node names, errors.
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
