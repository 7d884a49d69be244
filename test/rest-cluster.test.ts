// The membership REST routes: GET /cluster, POST /cluster/shards, DELETE /cluster/shards/:id, on a
// real cluster; their error statuses; and the migration view through a stand-in cluster.
import t from 'tap';
import type { ClusterStats } from '../src/index.js';
import { CacheError } from '../src/errors.js';
import { statusOf } from '../src/server/rest.js';
import { clusterRoute, type ClusterView, type MembershipApi } from '../src/server/rest-cluster.js';
import { serveRest as serve, startCluster } from './helpers/cluster.js';

interface Res {
  status: number;
  type: string | null;
  allow: string | null;
  text: string;
  json: Record<string, unknown>;
}

async function call(base: string, method: string, path: string): Promise<Res> {
  const res = await fetch(base + path, { method });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), allow: res.headers.get('allow'), text, json: JSON.parse(text) };
}

const KEYS = Array.from({ length: 200 }, (_, i) => `key:${i}`);

t.test('GET /cluster: epoch, every shard with keys and bytes, no migration', async (t) => {
  const cluster = await startCluster(t);
  const base = await serve(t, cluster);
  await cluster.mset(KEYS.map((k) => [k, `v-${k}`] as const));
  const r = await call(base, 'GET', '/cluster');
  t.equal(r.status, 200);
  t.equal(r.type, 'application/json');
  const view = r.json as unknown as ClusterView;
  t.same(Object.keys(view), ['epoch', 'replicas', 'keys', 'shards', 'migration']);
  t.equal(view.epoch, cluster.epoch);
  t.equal(view.keys, KEYS.length, 'every key counted once');
  t.equal(view.migration, null);
  t.same(
    view.shards.map((s) => s.name),
    ['node-1', 'node-2', 'node-3'],
  );
  const stats = await cluster.stats();
  for (const [i, s] of view.shards.entries()) {
    t.same(Object.keys(s), ['id', 'name', 'state', 'crashes', 'pending', 'keys', 'bytes'], `${s.name} fields`);
    t.match(s, { id: i + 1, state: 'ready', crashes: 0, pending: 0 });
    t.equal(s.keys, stats.shards[i]!.stats!.keys, `${s.name} keys`);
    t.equal(s.bytes, stats.shards[i]!.stats!.bytes, `${s.name} bytes`);
  }
  t.equal(
    view.shards.reduce((a, s) => a + s.keys!, 0),
    KEYS.length,
    'every key counted once',
  );
});

t.test('POST /cluster/shards adds node-4 and DELETE removes a shard; every key survives both', async (t) => {
  const cluster = await startCluster(t);
  const base = await serve(t, cluster);
  for (const k of KEYS.slice(0, 50)) t.equal((await call(base, 'POST', `/set?key=${k}&value=v-${k}`)).status, 201);
  await cluster.mset(KEYS.slice(50).map((k) => [k, `v-${k}`] as const));
  const before = cluster.epoch;

  const added = await call(base, 'POST', '/cluster/shards');
  t.equal(added.status, 201);
  t.equal(added.type, 'application/json');
  t.same(added.json, { shard: { id: 4, name: 'node-4', state: 'ready', crashes: 0, pending: 0 }, epoch: cluster.epoch });
  t.ok((added.json.epoch as number) > before, 'epoch increased');

  let view = (await call(base, 'GET', '/cluster')).json as unknown as ClusterView;
  t.same(
    view.shards.map((s) => s.id),
    [1, 2, 3, 4],
  );
  t.ok(view.shards[3]!.keys! > 0, 'node-4 received keys');
  t.equal(
    view.shards.reduce((a, s) => a + s.keys!, 0),
    KEYS.length,
    'no key lost or duplicated',
  );
  const owners = new Set<string>();
  for (const k of KEYS) {
    const r = await call(base, 'GET', `/get?key=${k}`);
    t.equal(r.json.value, `v-${k}`, `${k} after add`);
    owners.add(r.json.node as string);
  }
  t.ok(owners.has('node-4'), 'some keys now belong to node-4');

  const epochAdded = cluster.epoch;
  const removed = await call(base, 'DELETE', '/cluster/shards/2');
  t.equal(removed.status, 200);
  t.equal(removed.text, `{"removed":2,"epoch":${cluster.epoch}}`);
  t.ok(cluster.epoch > epochAdded, 'epoch increased');
  view = (await call(base, 'GET', '/cluster')).json as unknown as ClusterView;
  t.same(
    view.shards.map((s) => s.name),
    ['node-1', 'node-3', 'node-4'],
  );
  for (const k of KEYS) t.equal((await call(base, 'GET', `/get?key=${k}`)).json.value, `v-${k}`, `${k} after remove`);

  const again = await call(base, 'DELETE', '/cluster/shards/2');
  t.equal(again.status, 404, 'a removed shard is gone');
  t.same(again.json, { error: 'no shard 2 in the cluster' });
});

t.test('errors: 404 unknown id, 400 bad id, 405 wrong method, 404 unknown path', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const base = await serve(t, cluster);
  const epoch = cluster.epoch;
  const cases: [string, string, number, string, string | null][] = [
    ['DELETE', '/cluster/shards/99', 404, '{"error":"no shard 99 in the cluster"}', null],
    ['DELETE', '/cluster/shards/0', 404, '{"error":"no shard 0 in the cluster"}', null],
    ['DELETE', '/cluster/shards/abc', 400, '{"error":"shard id must be a non-negative integer, got \\"abc\\""}', null],
    ['DELETE', '/cluster/shards/1.5', 400, '{"error":"shard id must be a non-negative integer, got \\"1.5\\""}', null],
    ['DELETE', '/cluster/shards/-1', 400, '{"error":"shard id must be a non-negative integer, got \\"-1\\""}', null],
    ['DELETE', '/cluster/shards/1e3', 400, '{"error":"shard id must be a non-negative integer, got \\"1e3\\""}', null],
    [
      'DELETE',
      `/cluster/shards/${'9'.repeat(20)}`,
      400,
      `{"error":"shard id must be a non-negative integer, got \\"${'9'.repeat(20)}\\""}`,
      null,
    ],
    [
      'DELETE',
      `/cluster/shards/${'x'.repeat(50)}`,
      400,
      `{"error":"shard id must be a non-negative integer, got \\"${'x'.repeat(40)}…\\""}`,
      null,
    ],
    ['POST', '/cluster', 405, '{"error":"Method not allowed"}', 'GET'],
    ['DELETE', '/cluster', 405, '{"error":"Method not allowed"}', 'GET'],
    ['GET', '/cluster/shards', 405, '{"error":"Method not allowed"}', 'POST'],
    ['DELETE', '/cluster/shards', 405, '{"error":"Method not allowed"}', 'POST'],
    ['GET', '/cluster/shards/1', 405, '{"error":"Method not allowed"}', 'DELETE'],
    ['POST', '/cluster/shards/1', 405, '{"error":"Method not allowed"}', 'DELETE'],
    ['PUT', '/cluster/shards/abc', 405, '{"error":"Method not allowed"}', 'DELETE'],
    ['GET', '/cluster/', 404, '{"error":"Endpoint not found"}', null],
    ['DELETE', '/cluster/shards/', 404, '{"error":"Endpoint not found"}', null],
    ['DELETE', '/cluster/shards/1/x', 404, '{"error":"Endpoint not found"}', null],
    ['GET', '/clusters', 404, '{"error":"Endpoint not found"}', null],
  ];
  for (const [method, path, status, body, allow] of cases) {
    const r = await call(base, method, path);
    t.equal(r.status, status, `${method} ${path} status`);
    t.equal(r.text, body, `${method} ${path} body`);
    t.equal(r.type, 'application/json', `${method} ${path} is JSON`);
    t.equal(r.allow, allow, `${method} ${path} allow header`);
  }
  t.equal(cluster.epoch, epoch, 'nothing changed');
  t.equal(cluster.shards().length, 2);
});

t.test('409 past maxShards and for the last shard; 503 once the cluster is closed', async (t) => {
  const cluster = await startCluster(t, { shards: 1, maxShards: 2 });
  const base = await serve(t, cluster);
  t.equal((await call(base, 'POST', '/cluster/shards')).status, 201, 'grows to maxShards');
  const full = await call(base, 'POST', '/cluster/shards');
  t.equal(full.status, 409);
  t.same(full.json, { error: 'the cluster already has 2 shards (options.maxShards)' });
  t.equal((await call(base, 'DELETE', '/cluster/shards/1')).status, 200);
  const last = await call(base, 'DELETE', '/cluster/shards/2');
  t.equal(last.status, 409);
  t.same(last.json, { error: 'the last shard cannot be removed' });
  t.same(
    cluster.shards().map((s) => s.id),
    [2],
  );

  await cluster.close();
  for (const [method, path] of [
    ['GET', '/cluster'],
    ['POST', '/cluster/shards'],
    ['DELETE', '/cluster/shards/2'],
  ] as const) {
    const r = await call(base, method, path);
    t.equal(r.status, 503, `${method} ${path} on a closed cluster`);
    t.match(r.json, { error: /the cluster is clos/ });
  }
  t.equal(statusOf(new CacheError('NOT_FOUND', 'x')), 404);
  t.equal(statusOf(new CacheError('LIMIT', 'x')), 409);
  t.equal(statusOf(new CacheError('SHARD_UNAVAILABLE', 'x')), 503);
});

t.test('GET /cluster reports a migration in progress, and a shard that cannot answer', async (t) => {
  // A stand-in cluster: the real one's migrations end too fast to catch one in flight.
  const migration = {
    kind: 'add',
    shardId: 3,
    epoch: 3,
    rangesTotal: 40,
    rangesDone: 12,
    keysMoved: 1234,
    startedAt: 1_700_000_000_000,
  } as const;
  const stats: ClusterStats = {
    epoch: 3,
    state: 'ready',
    shards: [
      {
        id: 1,
        name: 'node-1',
        state: 'ready',
        crashes: 0,
        pending: 2,
        batches: 0,
        batchedOps: 0,
        stats: {
          keys: 10,
          bytes: 1300,
          maxBytes: 0,
          hits: 0,
          misses: 0,
          evictions: 0,
          expired: 0,
          ops: 0,
          volatileKeys: 0,
          announcements: 0,
          announcedEpoch: 3,
        },
      },
      { id: 3, name: 'node-3', state: 'restarting', crashes: 1, pending: 0, batches: 0, batchedOps: 0 },
    ],
    totals: { keys: 10, bytes: 1300, maxBytes: 0, hits: 0, misses: 0, evictions: 0, expired: 0, ops: 0, volatileKeys: 0 },
  };
  const fake = {
    epoch: 3,
    options: { replicas: 1 },
    stats: async () => stats,
    migration: () => ({ ...migration, extra: 'not on the wire' }),
    addShard: () => Promise.reject(new Error('unused')),
    removeShard: () => Promise.reject(new Error('unused')),
  } as unknown as MembershipApi;
  const reply = await clusterRoute(fake, 'GET', '/cluster');
  t.same(reply, {
    status: 200,
    body: {
      epoch: 3,
      replicas: 1,
      keys: null,
      shards: [
        { id: 1, name: 'node-1', state: 'ready', crashes: 0, pending: 2, keys: 10, bytes: 1300 },
        { id: 3, name: 'node-3', state: 'restarting', crashes: 1, pending: 0, keys: null, bytes: null },
      ],
      migration,
    },
  });
  t.equal(clusterRoute(fake, 'GET', '/elsewhere'), null, 'not a membership path');
});
