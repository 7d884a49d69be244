// shardcache as a replication leader: PSYNC by hand (full resync framing, the stream, partial
// resync from the backlog, a gap too old), WAIT, and a real redis-server following it through a
// full sync under concurrent writes (FLUSHALL included) to an identical data set.
import t from 'tap';
import { RespClient } from '../src/client/resp.js';
import type { RespReply } from '../src/resp/reply-parser.js';
import { Crc64 } from '../src/rdb/crc64.js';
import { startCluster } from './helpers/cluster.js';
import { differences, dumpAll } from './helpers/dataset.js';
import { hasRedis, startRedisServer } from './helpers/redis.js';
import { Raw, serve } from './helpers/resp.js';

t.test('CRC-64 as Redis computes it (the check value of "123456789")', async (t) => {
  const c = new Crc64();
  c.update(Buffer.from('1234'));
  c.update(Buffer.from('56789'));
  t.equal(c.hex(), 'e9c6d914c4b8d9ca');
});

t.test('PSYNC by hand: full resync, the stream, partial resync, a gap too old', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const port = await serve(t, cluster, { replBacklogBytes: 4096 });
  await cluster.set('before', 'x', { px: 60_000 });
  const a = new Raw(port);
  t.teardown(() => a.end());
  a.command('REPLCONF', 'listening-port', '6380');
  a.command('REPLCONF', 'capa', 'eof', 'capa', 'psync2');
  a.command('PSYNC', '?', '-1');
  t.equal(await a.until('+OK\r\n+OK\r\n'), '+OK\r\n+OK\r\n');
  const full = /^\+FULLRESYNC ([0-9a-f]{40}) (\d+)\r\n$/.exec(await a.until('\r\n'));
  t.ok(full, 'FULLRESYNC with a 40-hex ID and an offset');
  const [, replid, offset] = full!;
  const head = /^\$EOF:([0-9a-f]{40})\r\n$/.exec(await a.until('\r\n'));
  t.ok(head, 'a diskless RDB with its end mark (capa eof)');
  const rdb = Buffer.from(await a.until(head![1]!), 'latin1');
  t.equal(rdb.subarray(0, 9).toString(), 'REDIS0009', 'RDB header');
  t.ok(rdb.includes('before'), 'the snapshot holds the key');
  const body = rdb.subarray(0, rdb.length - 40 - 8);
  const sum = new Crc64();
  sum.update(body);
  t.same(rdb.subarray(rdb.length - 48, rdb.length - 40), sum.bytes(), 'checksum of everything before it');

  // Writes from now on come as commands that set each key's whole state — after the replica's
  // first ACK (it has loaded the RDB): bytes right behind the end mark would hide it.
  await cluster.set('k1', 'v1');
  t.equal(a.unread, 0, 'nothing streamed before the first ACK');
  a.command('REPLCONF', 'ACK', offset!);
  await cluster.incr('n');
  await cluster.del('before');
  const stream = await a.until('$6\r\nbefore\r\n');
  t.match(stream, /\*3\r\n\$3\r\nSET\r\n\$2\r\nk1\r\n\$2\r\nv1\r\n/);
  t.match(stream, /\*3\r\n\$3\r\nSET\r\n\$1\r\nn\r\n\$1\r\n1\r\n/, 'INCR as the SET of its result');
  t.match(stream, /\*2\r\n\$3\r\nDEL\r\n\$6\r\nbefore\r\n/);
  const role = await (async () => {
    const c = await RespClient.connect('127.0.0.1', port);
    t.teardown(() => c.close());
    return c;
  })();
  let seen = Number(offset) + Buffer.byteLength(stream);
  const [kind, leaderOffset] = (await role.call('ROLE')) as [Buffer, number, RespReply[]];
  t.equal(kind.toString(), 'master');
  t.equal(leaderOffset, seen, 'ROLE: the offset is the bytes of the stream so far');

  // Two FLUSHALLs in one pipeline (one shard batch) are two barriers passed: the stream goes on.
  const f = await RespClient.connect('127.0.0.1', port);
  t.teardown(() => f.close());
  t.same(await Promise.all([f.call('FLUSHALL'), f.call('FLUSHALL'), f.call('SET', 'after', 'flushes')]), ['OK', 'OK', 'OK']);
  const flushed = await a.until('$7\r\nflushes\r\n');
  t.equal(flushed.split('FLUSHALL').length - 1, 2, 'two FLUSHALLs, then the SET');
  t.match(flushed, /FLUSHALL\r\n\*3\r\n\$3\r\nSET\r\n\$5\r\nafter\r\n\$7\r\nflushes\r\n$/);
  seen += Buffer.byteLength(flushed);

  // The link drops; the replica comes back asking for what follows what it saw.
  a.end();
  await cluster.set('k2', 'missed');
  const b = new Raw(port);
  t.teardown(() => b.end());
  b.command('REPLCONF', 'capa', 'psync2');
  b.command('PSYNC', replid!, String(seen + 1));
  t.equal(await b.until(`+CONTINUE ${replid}\r\n`), `+OK\r\n+CONTINUE ${replid}\r\n`, 'partial resync');
  t.match(await b.until('missed\r\n'), /^\*3\r\n\$3\r\nSET\r\n\$2\r\nk2\r\n\$6\r\nmissed\r\n$/, 'exactly what it missed');
  b.end();

  // More than the 4 KB backlog later, the same request needs a full resync.
  await cluster.set('big', 'x'.repeat(5000));
  const c = new Raw(port);
  t.teardown(() => c.end());
  c.command('PSYNC', replid!, String(seen + 1));
  t.match(await c.until('\r\n'), new RegExp(`^\\+FULLRESYNC ${replid} \\d+\\r\\n$`), 'a gap the backlog lost');
  c.end();
  const info = ((await role.call('INFO', 'stats')) as Buffer).toString();
  t.match(info, /sync_full:2\r\n/);
  t.match(info, /sync_partial_ok:1\r\n/);
  t.match(info, /sync_partial_err:1\r\n/);
});

t.test('a cluster with copies on several shards refuses PSYNC clearly (not supported yet)', async (t) => {
  const cluster = await startCluster(t, { shards: 3, replicas: 2 });
  const port = await serve(t, cluster);
  const c = await RespClient.connect('127.0.0.1', port);
  t.teardown(() => c.close());
  t.match(await c.call('PSYNC', '?', '-1'), { message: /^ERR replication of a cluster with --replicas above 1 is not supported yet/ });
  t.equal(await c.call('PING'), 'PONG', 'the connection still serves');
});

t.test('WAIT: no replicas answers 0 at once; acknowledgements are counted', async (t) => {
  const cluster = await startCluster(t, { shards: 1 });
  const port = await serve(t, cluster);
  const c = await RespClient.connect('127.0.0.1', port);
  t.teardown(() => c.close());
  t.equal(await c.call('WAIT', '1', '0'), 0, 'no replica: 0, without waiting');
  const r = new Raw(port);
  t.teardown(() => r.end());
  r.command('PSYNC', '?', '-1');
  t.match(await r.until('\r\n'), /^\+FULLRESYNC [0-9a-f]{40} \d+\r\n$/);
  await c.call('SET', 'a', '1');
  const waiting = c.call('WAIT', '1', '0');
  // WAIT asks the replica for its offset (after the RDB and the SET); it answers.
  await r.until('GETACK\r\n$1\r\n*\r\n');
  r.command('REPLCONF', 'ACK', '999999999');
  t.equal(await waiting, 1, 'one replica acknowledged');
  t.equal(await c.call('WAIT', '2', '50'), 1, 'asking for two: the one there is, after the timeout');
  t.match(await c.call('WAIT', '1', '-1'), { message: 'ERR timeout is negative' });
});

t.test(
  'a real redis-server follows a shardcache leader: full sync under writes, FLUSHALL, identical data',
  { skip: hasRedis ? false : 'redis-server not installed (apt-get install redis-server)' },
  async (t) => {
    const cluster = await startCluster(t, { shards: 3 });
    const port = await serve(t, cluster);
    const entries: [string, string][] = [];
    for (let i = 0; i < 20_000; i++) entries.push([`key:${i}`, `value-${i}-${'v'.repeat(i % 50)}`]);
    await cluster.mset(entries);
    for (let i = 0; i < 20_000; i += 7) await cluster.pexpire(`key:${i}`, 600_000 + i);
    const w = await RespClient.connect('127.0.0.1', port);
    t.teardown(() => w.close());
    const replica = await startRedisServer(t, ['--replicaof', '127.0.0.1', String(port)]);
    const synced = replica.logLine(/MASTER <-> REPLICA sync: Finished with success/);
    let r: RespClient | null = null;
    /** Waits for the replica to acknowledge everything, then compares both data sets whole. */
    const same = async (what: string): Promise<Map<string, string>> => {
      t.equal(await w.call('WAIT', '1', '0'), 1, `${what}: the replica acknowledged everything`);
      r ??= await RespClient.connect('127.0.0.1', replica.port);
      const [leader, follower] = [await dumpAll(w), await dumpAll(r)];
      t.equal(follower.size, leader.size, `${what}: as many keys (${leader.size})`);
      t.same(differences(leader, follower), [], `${what}: every value and absolute expiry equal`);
      return leader;
    };
    t.teardown(() => r?.close());
    // Writes while the replica connects and loads: every kind of change; a comparison; then a
    // FLUSHALL in the middle of a pipeline and more writes; a comparison.
    const writes: Promise<RespReply>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200; i++) {
        const k = `key:${(round * 997 + i * 13) % 20_000}`;
        writes.push(w.call('SET', k, `r${round}`));
        writes.push(w.call('INCR', `ctr:${i % 50}`));
        writes.push(w.call('APPEND', k, '+'));
        if (i % 3 === 0) writes.push(w.call('PEXPIRE', k, String(900_000 + i)));
        if (i % 5 === 0) writes.push(w.call('DEL', `key:${(i * 31) % 20_000}`));
        if (i % 11 === 0) writes.push(w.call('PERSIST', k));
      }
      await Promise.all(writes.splice(0));
      if (round === 10) await synced;
      if (round === 12) {
        const before = await same('after the full sync and live writes');
        t.ok(before.size > 19_000, `${before.size} keys`);
        t.ok([...before.values()].filter((v) => !v.endsWith('@-1')).length > 2500, 'many with an expiry');
      }
      if (round === 14) {
        writes.push(w.call('MSET', 'a', '1', 'b', '2'));
        writes.push(w.call('FLUSHALL'));
        writes.push(w.call('MSET', 'c', '3', 'd', '4', 'e', '5'));
      }
    }
    await Promise.all(writes);
    const after = await same('after FLUSHALL and more writes');
    t.notOk(after.has('a'), 'the FLUSHALL removed what came before it');
    t.equal(after.get('e'), '5 @-1');
  },
);
