// `shardcache get|set|del` against a server, as a user runs them: the outcomes a client of the seed
// had — ok (exit 0), error (one line, exit 1), not found (exit 3) — usage errors (exit 2), --json.
import { createServer } from 'node:http';
import t from 'tap';
import { listen } from '../src/server/rest.js';
import { serveRest, startCluster } from './helpers/cluster.js';
import { cli, clis, oneLineError } from './helpers/cli.js';

t.test('get, set, del against a running server', async (t) => {
  const cluster = await startCluster(t);
  const url = await serveRest(t, cluster);
  await cluster.set(Buffer.from('bin'), Buffer.from([0xff, 0x00, 0x41]));
  const [set, setTtl, setJson] = await clis([
    ['set', 'user:1', 'alice ✓', '--url', url],
    ['set', 'session', 'token', '--ttl', '3600', '--url', url],
    ['set', 'empty', '', '--url', url, '--json'],
  ]);
  t.same([set!.code, set!.out, set!.err], [0, 'OK\n', '']);
  t.equal(setTtl!.code, 0);
  // Seconds pass while the CLI starts: the TTL is up to 3600 and close to it.
  const ttl = await cluster.ttl('session');
  t.ok(ttl > 3500 && ttl <= 3600, `--ttl in seconds (${ttl})`);
  t.same(JSON.parse(setJson!.out), { key: 'empty', ok: true, node: cluster.ownerOf('empty') });
  t.equal(Buffer.from((await cluster.get('user:1')) as Buffer).toString(), 'alice ✓', 'stored as its UTF-8 bytes');

  const [get, getJson, getBin, missing, missingJson] = await clis([
    ['get', 'user:1', '--url', url],
    ['get', 'user:1', '--url', url, '--json'],
    ['get', 'bin', '--url', url, '--json'],
    ['get', 'nope', '--url', url],
    ['get', 'nope', '--url', url, '--json'],
  ]);
  t.same([get!.code, get!.out], [0, 'alice ✓'], 'the value as stored (a newline only on a terminal)');
  t.same(JSON.parse(getJson!.out), { key: 'user:1', found: true, value: 'alice ✓', encoding: 'utf8' });
  t.same(JSON.parse(getBin!.out), { key: 'bin', found: true, value: Buffer.from([0xff, 0, 0x41]).toString('base64'), encoding: 'base64' });
  t.same([missing!.code, missing!.out, missing!.err], [3, '', 'not found: "nope"\n'], 'not found: exit 3');
  t.same([missingJson!.code, JSON.parse(missingJson!.out)], [3, { key: 'nope', found: false }]);

  const del = await cli('del', 'user:1', '--url', url);
  const [delAgain, delJson] = await clis([
    ['del', 'user:1', '--url', url],
    ['del', 'session', '--url', url, '--json'],
  ]);
  t.same([del.code, del.out], [0, 'OK\n']);
  t.same([delAgain!.code, delAgain!.err], [3, 'not found: "user:1"\n']);
  t.same(JSON.parse(delJson!.out), { key: 'session', deleted: true });
  t.equal(await cluster.get('user:1'), null);
});

t.test('errors and usage', async (t) => {
  const cluster = await startCluster(t, { shards: 1, maxValueBytes: 8 });
  const url = await serveRest(t, cluster);
  const [tooBig, unreachable, emptyKey, badTtl, noValue, dots, wrongUrl, wrongUrlDel] = await clis([
    ['set', 'k', 'far too long', '--url', url],
    ['get', 'k', '--url', 'http://127.0.0.1:1'],
    ['get', '', '--url', url],
    ['set', 'k', 'v', '--ttl', '0', '--url', url],
    ['set', 'k'],
    ['get', '..', '--url', url],
    ['get', 'k', '--url', `${url}/api`],
    ['del', 'k', '--url', `${url}/api`],
  ]);
  t.equal(dots!.code, 2, '".." cannot travel in a URL path');
  t.match(dots!.err, /use the RESP port/);
  // A 404 that is not the /keys routes' own "Key not found" is an error, not a missing key.
  oneLineError(t, wrongUrl!, /Endpoint not found/, 'a wrong --url (get)');
  oneLineError(t, wrongUrlDel!, /Endpoint not found/, 'a wrong --url (del)');
  oneLineError(t, tooBig!, /Value larger than the limit of 8 bytes/, 'a refused value');
  oneLineError(t, unreachable!, /the server at http:\/\/127\.0\.0\.1:1 is not reachable/, 'no server');
  t.equal(emptyKey!.code, 2, 'an empty KEY is a usage error');
  t.match(emptyKey!.err, /KEY must not be empty/);
  t.equal(badTtl!.code, 2, '--ttl 0 is a usage error');
  t.equal(noValue!.code, 2, 'set without VALUE is a usage error');
  const help = await cli('get', '--help');
  t.equal(help.code, 0);
  t.match(help.out, /exits\s+3/);
});

t.test('a read-only replica refusing a write is the "not leader" outcome', async (t) => {
  // The refusal as a replica's REST API is to send it (403 with READONLY, and where the leader is);
  // the replica itself comes with replication (issue 7), whose tests will run this against it.
  const replica = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: "READONLY You can't write against a read only replica.", leader: '127.0.0.1:7000' }));
    });
  });
  const { port } = await listen(replica, 0, '127.0.0.1');
  t.teardown(() => replica.close());
  const url = `http://127.0.0.1:${port}`;
  const [set, del] = await clis([
    ['set', 'k', 'v', '--url', url],
    ['del', 'k', '--url', url, '--json'],
  ]);
  for (const [r, what] of [
    [set!, 'set'],
    [del!, 'del'],
  ] as const)
    oneLineError(
      t,
      r,
      /^ › {3}Error: not leader: READONLY You can't write against a read only replica\. \(the leader is 127\.0\.0\.1:7000\)$/,
      what,
    );
});
