// shardcache as a replica of a shardcache leader: full sync of 100k keys with TTLs, the live
// stream under concurrent writes, READONLY on RESP, REST and the CLI, a cut link resumed with a
// partial resync, a restarted leader with a full one, WAIT with two replicas; and the RDB reader.
// Leader and replica are separate clusters talking over loopback; waits are on events and offsets.
// The hard cases (bad leaders, redis-server, a replica process): replication-faults.test.ts.
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { RespErrorReply } from '../src/resp/reply-parser.js';
import { leaderOf } from '../src/replication/leader.js';
import { ByteWriter } from '../src/byte-writer.js';
import { Crc64 } from '../src/rdb/crc64.js';
import { RDB, writeEntry, writeHeader } from '../src/rdb/format.js';
import { parseRdb, RdbError } from '../src/rdb/read.js';
import { createRestServer, listen } from '../src/server/rest.js';
import { cli, oneLineError } from './helpers/cli.js';
import { startCluster } from './helpers/cluster.js';
import { differences, dumpAll } from './helpers/dataset.js';
import { client, linkOf, respOn } from './helpers/replication.js';

t.test('RDB: what the writer writes the reader reads; corrupt and truncated files are refused', async (t) => {
  const w = new ByteWriter();
  writeHeader(w, { 'redis-bits': '64' });
  writeEntry(w, Buffer.from('a'), 'x'.repeat(20_000), 0);
  writeEntry(w, Buffer.from([0xff, 0]), Buffer.from([1, 2, 3]), 1_900_000_000_000);
  w.byte(RDB.EOF);
  const body = Buffer.from(w.take());
  const crc = new Crc64();
  crc.update(body);
  const file = Buffer.concat([body, crc.bytes()]);
  const r = parseRdb(file);
  t.equal(r.version, 9);
  t.same(
    r.entries.map((e) => [e.key.toString('hex'), e.value.length, e.expireAt]),
    [
      ['61', 20_000, 0],
      ['ff00', 3, 1_900_000_000_000],
    ],
  );
  const bad = Buffer.from(file);
  bad[20] = bad[20]! ^ 1;
  t.throws(() => parseRdb(bad), /checksum mismatch/);
  t.throws(() => parseRdb(file.subarray(0, file.length - 30)), RdbError);
  t.throws(() => parseRdb(Buffer.from('HTTP/1.1 200 OK\r\n')), /no REDIS magic/);
  // A zero checksum means "not computed" (rdbchecksum no), as Redis reads it.
  t.equal(parseRdb(Buffer.concat([body, Buffer.alloc(8)])).entries.length, 2);
});

t.test('a shardcache replica of a shardcache leader', async (t) => {
  const leaderCluster = await startCluster(t, { shards: 3 });
  const leader = await respOn(t, leaderCluster);
  const lport = leader.context.port;
  // 100k keys, every tenth with a TTL.
  for (let i = 0; i < 100_000; i += 10_000) {
    const batch: [string, string][] = [];
    for (let j = i; j < i + 10_000; j++) batch.push([`k:${j}`, `v${j}`]);
    await leaderCluster.mset(batch);
  }
  await Promise.all(Array.from({ length: 10_000 }, (_, i) => leaderCluster.pexpire(`k:${i * 10}`, 3_600_000 + i)));
  const replicaCluster = await startCluster(t, { shards: 2 });
  const replica = await respOn(t, replicaCluster, { replicaOf: { host: '127.0.0.1', port: lport } });
  const link = linkOf(replica);
  const first = await once(link, 'synced');
  t.match(first[0], { full: true }, 'a full resync first');
  const w = await client(t, lport);
  const r = await client(t, replica.context.port);
  t.equal(await w.call('WAIT', '1', '0'), 1);
  const [a, b] = [await dumpAll(w), await dumpAll(r)];
  t.equal(b.size, 100_000, 'every key');
  t.same(differences(a, b), [], 'every value and absolute expiry');

  // The live stream under concurrent writes of every kind.
  const writes = [];
  for (let i = 0; i < 3000; i++) {
    const k = `k:${(i * 7919) % 100_000}`;
    writes.push(w.call('SET', k, `w${i}`), w.call('INCR', `n:${i % 10}`), w.call('APPEND', k, '!'));
    if (i % 4 === 0) writes.push(w.call('DEL', `k:${i}`));
    if (i % 5 === 0) writes.push(w.call('EXPIRE', k, String(1000 + i)));
    if (i % 9 === 0) writes.push(w.call('MSET', `m:${i}`, 'a', `m:${i + 1}`, 'b'));
  }
  await Promise.all(writes);
  t.equal(await w.call('WAIT', '1', '0'), 1, 'the replica acknowledged the stream');
  t.same(differences(await dumpAll(w), await dumpAll(r)), [], 'identical after the stream');

  // Reads are served; writes refused, on the hot path and the general one.
  t.equal(String(await r.call('GET', 'n:3')), '300');
  for (const cmd of [['SET', 'x', '1'], ['INCR', 'x'], ['DEL', 'k:1'], ['MSET', 'a', '1'], ['EXPIRE', 'k:1', '5'], ['FLUSHALL']]) {
    const reply = await r.call(...cmd);
    t.ok(reply instanceof RespErrorReply && reply.message === "READONLY You can't write against a read only replica.", `${cmd[0]} refused`);
  }
  const rest = createRestServer(replicaCluster, { readOnly: () => '127.0.0.1:1' });
  const restAddr = await listen(rest, 0, '127.0.0.1');
  t.teardown(() => {
    rest.closeAllConnections();
    rest.close();
  });
  const put = await fetch(`http://127.0.0.1:${restAddr.port}/keys/x`, { method: 'PUT', body: 'v' });
  t.equal(put.status, 403);
  t.same(await put.json(), { error: "READONLY You can't write against a read only replica.", leader: '127.0.0.1:1' });
  t.equal((await fetch(`http://127.0.0.1:${restAddr.port}/keys/n:3`)).status, 200, 'REST reads served');
  // Sent as written (fetch would resolve the dot segments itself): routes are exact, so the dotted
  // paths are no route at all (404), and none of them writes.
  for (const [path, expected] of [
    ['/set?key=a&value=1', 403],
    ['/./set?key=a&value=1', 404],
    ['/x/../set?key=a&value=1', 404],
  ] as const) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: restAddr.port, method: 'POST', path }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    t.equal(status, expected, `POST ${path} refused`);
  }
  t.equal((await fetch(`http://127.0.0.1:${restAddr.port}/keys/a`)).status, 404, 'none of them wrote');
  oneLineError(t, await cli('set', 'x', '1', '--url', `http://127.0.0.1:${restAddr.port}`), /not leader: READONLY/, 'shardcache set');
  const role = (await r.call('ROLE')) as unknown[];
  t.same(
    role.map((x) => (Buffer.isBuffer(x) ? x.toString() : x)),
    ['slave', '127.0.0.1', lport, 'connected', link.offset],
  );
  t.match(
    ((await r.call('INFO', 'replication')) as Buffer).toString(),
    /role:slave\r\nmaster_host:127\.0\.0\.1\r\n.*master_link_status:up/s,
  );

  // A cut link: writes meanwhile; the replica continues from its offset (partial resync).
  for (const l of leaderOf(leaderCluster).links) l.socket.destroy();
  await once(link, 'failed');
  await w.call('SET', 'during', 'cut');
  const second = await once(link, 'synced');
  t.match(second[0], { full: false }, 'a partial resync');
  t.equal(await w.call('WAIT', '1', '0'), 1);
  t.equal(String(await r.call('GET', 'during')), 'cut');
  t.match(link.stats, { fullSyncs: 1, partialSyncs: 1 });

  // A second replica; WAIT counts both.
  const replica2 = await respOn(t, await startCluster(t, { shards: 1 }), { replicaOf: { host: '127.0.0.1', port: lport } });
  await once(linkOf(replica2), 'synced');
  await w.call('SET', 'both', '1');
  t.equal(await w.call('WAIT', '2', '0'), 2, 'two replicas acknowledged');

  // The leader restarts (a new history): the replica resyncs in full, with the new data set.
  leader.destroyConnections();
  await new Promise((resolve) => leader.close(resolve));
  const restarted = await startCluster(t, { shards: 1 });
  await restarted.set('fresh', 'start');
  await respOn(t, restarted, {}, lport);
  const third = await once(link, 'synced');
  t.match(third[0], { full: true }, 'a full resync from the new leader');
  const w2 = await client(t, lport);
  t.equal(await w2.call('WAIT', '2', '0'), 2);
  t.same(differences(await dumpAll(w2), await dumpAll(r)), [], 'the new data set, nothing of the old');
  t.equal(await r.call('DBSIZE'), 1);

  // REPLICAOF NO ONE: a leader again, writable.
  t.equal(await r.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  t.equal(await r.call('SET', 'mine', '1'), 'OK');
});
