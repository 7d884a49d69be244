// `shardcache cluster status|add|remove` against a `shardcache start` server, as a user runs them:
// output, exit 0; one line on stderr and exit 1 for runtime errors; exit 2 for usage errors.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { render } from '../src/commands/cluster/status.js';
import type { ClusterView } from '../src/server/rest-cluster.js';
import { cli, clis, oneLineError, run, waitFor } from './helpers/cli.js';

async function listenHttp(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

t.test('status, add, remove against a running server', async (t) => {
  const server = run(['start', '--http-port', '0', '--port', '0', '--shards', '2']);
  t.teardown(async () => {
    server.child.kill('SIGTERM');
    await server.exit;
  });
  const base = (await waitFor(server, /ready: 2 shards, REST (http:\/\/127\.0\.0\.1:\d+), RESP redis:\/\/127\.0\.0\.1:\d+\n/))[1]!;
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  for (const k of keys) t.equal((await fetch(`${base}/set?key=${k}&value=v${k}`, { method: 'POST' })).status, 201);

  const status = async (): Promise<ClusterView> => {
    const r = await cli('cluster', 'status', '--url', base, '--json');
    t.equal(r.code, 0, 'status --json exits 0');
    t.equal(r.err, '');
    t.equal(r.out.split('\n').length, 2, 'one line of JSON');
    return JSON.parse(r.out) as ClusterView;
  };

  let view = await status();
  t.same(Object.keys(view), ['epoch', 'replicas', 'keys', 'shards', 'migration']);
  t.same(
    view.shards.map((s) => [s.id, s.name, s.state]),
    [
      [1, 'node-1', 'ready'],
      [2, 'node-2', 'ready'],
    ],
  );
  t.equal(view.migration, null);
  t.equal(
    view.shards.reduce((a, s) => a + s.keys!, 0),
    keys.length,
  );
  const epoch0 = view.epoch;

  const table = await cli('cluster', 'status', '--url', base);
  t.equal(table.code, 0);
  t.equal(table.err, '');
  const lines = table.out.trimEnd().split('\n');
  t.match(lines[0], new RegExp(`^epoch ${epoch0}, 2 shards, ${keys.length} keys, [0-9.]+ (B|KiB)$`));
  t.match(lines[1], /^SHARD\s+ID\s+STATE\s+KEYS\s+BYTES\s+CRASHES\s+PENDING$/);
  t.match(lines[2], /^node-1\s+1\s+ready\s+\d+\s+[0-9.]+ (B|KiB)\s+0\s+0$/);
  t.match(lines[3], /^node-2\s+2\s+ready\s+/);
  t.equal(lines[4], 'migration: none');

  const add = await cli('cluster', 'add', '--url', base);
  t.equal(add.code, 0, 'add exits 0');
  t.equal(add.err, '');
  const added = /^added node-3 \(id 3, ready\); epoch (\d+)\n$/.exec(add.out);
  t.ok(added, `add prints the new shard: ${add.out}`);
  view = await status();
  t.equal(view.epoch, Number(added![1]), 'status shows the epoch add printed');
  t.ok(view.epoch > epoch0, 'epoch increased');
  t.same(
    view.shards.map((s) => s.name),
    ['node-1', 'node-2', 'node-3'],
  );

  const remove = await cli('cluster', 'remove', '1', '--url', `${base}/`);
  t.equal(remove.code, 0, 'remove exits 0 (a trailing slash on --url is fine)');
  t.equal(remove.err, '');
  t.match(remove.out, /^removed shard 1; epoch \d+\n$/);
  view = await status();
  t.same(
    view.shards.map((s) => s.name),
    ['node-2', 'node-3'],
  );
  t.equal(
    view.shards.reduce((a, s) => a + s.keys!, 0),
    keys.length,
    'no key lost',
  );
  for (const k of keys) t.equal(((await (await fetch(`${base}/get?key=${k}`)).json()) as { value: string }).value, `v${k}`);

  const [missing, wrongPath] = await clis([
    ['cluster', 'remove', '99', '--url', base],
    ['cluster', 'remove', '2', '--url', `${base}/nowhere`],
  ]);
  oneLineError(t, missing!, /Error: no shard 99 in the cluster$/, 'remove 99');
  oneLineError(t, wrongPath!, /Error: Endpoint not found$/, 'wrong base path');
});

t.test('a server that is not there, or is not shardcache: one line, exit 1', async (t) => {
  // A port that was free a moment ago: nothing listens there now.
  const closed = createServer();
  const port = await listenHttp(closed);
  closed.close();
  await once(closed, 'close');
  const other = createServer((req, res) => {
    if (req.url!.startsWith('/html/')) res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hi</h1>');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
  });
  const otherPort = await listenHttp(other);
  t.teardown(() => other.close());
  const long = `http://127.0.0.1:${port}/${'a'.repeat(120)}`;

  const [blocked, refused, longUrl, html, notOurs] = await clis([
    ['cluster', 'status', '--url', 'http://127.0.0.1:1'],
    ['cluster', 'remove', '1', '--url', `http://127.0.0.1:${port}`],
    ['cluster', 'status', '--url', long],
    ['cluster', 'status', '--url', `http://127.0.0.1:${otherPort}/html`],
    ['cluster', 'add', '--url', `http://127.0.0.1:${otherPort}/json`],
  ]);
  oneLineError(
    t,
    blocked!,
    /Error: the server at http:\/\/127\.0\.0\.1:1 is not reachable \(fetch refuses to connect to port 1\)$/,
    'port 1',
  );
  oneLineError(
    t,
    refused!,
    new RegExp(`Error: the server at http://127\\.0\\.0\\.1:${port} is not reachable \\(ECONNREFUSED\\)$`),
    'refused',
  );
  oneLineError(
    t,
    longUrl!,
    /Error: the server at http:\/\/127\.0\.0\.1:\d+\/a{120} is not reachable \(ECONNREFUSED\)$/,
    'a long URL is not wrapped',
  );
  oneLineError(t, html!, /Error: unexpected response from .*\/html\/cluster: HTTP 200, not JSON$/, 'HTML');
  oneLineError(t, notOurs!, /Error: unexpected response from .*\/json: HTTP 200, not a shardcache reply$/, 'add, other JSON');
});

t.test('usage errors exit 2; --help exits 0', async (t) => {
  const usage = [
    ['cluster', 'remove', 'abc'],
    ['cluster', 'remove', '-1'],
    ['cluster', 'remove'],
    ['cluster', 'status', '--url', 'nope'],
    ['cluster', 'status', '--url', 'ftp://127.0.0.1'],
    ['cluster', 'add', 'extra'],
  ];
  const results = await clis(usage);
  results.forEach((r, i) => {
    t.equal(r.code, 2, usage[i]!.join(' '));
    t.match(r.err, /Error/, 'says what is wrong');
  });
  t.match(results[0]!.err, 'ID must be a non-negative integer, got "abc"');
  t.match(results[3]!.err, 'a server URL must be http:// or https://, got "nope"');

  const [status, add, remove, topic] = await clis([
    ['cluster', 'status', '--help'],
    ['cluster', 'add', '--help'],
    ['cluster', 'remove', '--help'],
    ['cluster', '--help'],
  ]);
  for (const r of [status!, add!, remove!]) {
    t.equal(r.code, 0);
    t.match(r.out, /--url=<value>\s+\[default: http:\/\/127\.0\.0\.1:8080\]/);
  }
  t.match(status!.out, /--json/);
  t.match(remove!.out, /cluster remove ID/);
  t.equal(topic!.code, 0);
  t.match(topic!.out, /cluster add\s+Add a shard/);
  t.match(topic!.out, /cluster remove\s+Remove a shard/);
  t.match(topic!.out, /cluster status\s+Show a running server's shards/);
});

t.test('the status table shows a migration in progress and shards that cannot answer', async (t) => {
  const view: ClusterView = {
    epoch: 7,
    replicas: 1,
    keys: null,
    shards: [
      { id: 1, name: 'node-1', state: 'ready', crashes: 0, pending: 3, keys: 1000, bytes: 150_000 },
      { id: 12, name: 'node-12', state: 'restarting', crashes: 2, pending: 0, keys: null, bytes: null },
    ],
    migration: { kind: 'add', shardId: 12, epoch: 7, rangesTotal: 40, rangesDone: 10, keysMoved: 321, startedAt: 1_000 },
  };
  t.equal(
    render(view, 3_500),
    [
      'epoch 7, 2 shards, - keys, -',
      'SHARD    ID  STATE       KEYS      BYTES  CRASHES  PENDING',
      'node-1    1  ready       1000  146.5 KiB        0        3',
      'node-12  12  restarting     -          -        2        0',
      'migration: adding node-12 (epoch 7): 10/40 ranges (25%), 321 keys moved, 2.5 s',
    ].join('\n'),
  );
  const removing = render(
    { ...view, keys: 1000, shards: [view.shards[0]!], migration: { ...view.migration!, kind: 'remove', rangesTotal: 0, rangesDone: 0 } },
    0,
  );
  t.match(removing, /^epoch 7, 1 shard, 1000 keys, 146\.5 KiB\n/);
  // With two copies of each key the shards hold twice the keys: the summary counts each key once.
  const copies = render({ ...view, replicas: 2, keys: 500, shards: [view.shards[0]!], migration: null }, 0);
  t.match(copies, /^epoch 7, 1 shard, 500 keys \(1000 copies\), 146\.5 KiB\n/);
  t.match(removing, /migration: removing shard 12 \(epoch 7\): 0\/0 ranges \(100%\), 321 keys moved, 0\.0 s$/);
});
