// shardcache as a replica: of a shardcache leader (full sync of 100k keys with TTLs, the live
// stream under concurrent writes, READONLY on RESP, REST and the CLI, a cut link resumed with a
// partial resync, a restarted leader with a full one, WAIT with two replicas), of a real
// redis-server (string keys and TTLs copied, other types skipped and counted), and bad leaders
// (refusing, wrong password, not Redis, a corrupt snapshot, a stream cut mid-command). Leader and
// replica are separate clusters talking over loopback; waits are on events and offsets.
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { RespClient, RespErrorReply } from '../src/client/resp.js';
import type { Cluster } from '../src/index.js';
import { leaderOf } from '../src/replication/leader.js';
import { ByteWriter } from '../src/replication/bytes.js';
import { Crc64, parseRdb, RDB, RdbError, writeEntry, writeHeader } from '../src/replication/rdb.js';
import type { Replica } from '../src/replication/replica.js';
import { createRestServer, listen } from '../src/server/rest.js';
import { createRespServer, type RespServer, type RespServerOptions } from '../src/server/resp/server.js';
import { cli, oneLineError, run, waitFor } from './helpers/cli.js';
import { startCluster } from './helpers/cluster.js';
import { differences, dumpAll } from './helpers/dataset.js';
import { hasRedis, startRedisServer } from './helpers/redis.js';
import { commandServer } from './helpers/resp.js';

/** A RESP server on a free loopback port (or `port`), closed with the test. */
async function respOn(t: Test, cluster: Cluster, options: RespServerOptions = {}, port = 0): Promise<RespServer> {
  const server = createRespServer(cluster, { replBackoffMs: [10, 100], ...options });
  await listen(server, port, '127.0.0.1');
  t.teardown(() => {
    server.destroyConnections();
    server.close();
  });
  return server;
}

/** The server's replica link (set by replicaOf / REPLICAOF). */
function linkOf(server: RespServer): Replica {
  return server.context.replicaOf as unknown as Replica;
}

async function client(t: Test, port: number): Promise<RespClient> {
  const c = await RespClient.connect('127.0.0.1', port);
  t.teardown(() => c.close());
  return c;
}

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
  // Sent as written (fetch would resolve the dot segments itself); the router resolves them.
  for (const path of ['/set?key=a&value=1', '/./set?key=a&value=1', '/x/../set?key=a&value=1']) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: restAddr.port, method: 'POST', path }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    t.equal(status, 403, `POST ${path} refused`);
  }
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

/**
 * A leader of our own making for the bad cases: answers the handshake, then `onPsync` decides
 * what the replica gets.
 */
async function fakeLeader(
  t: Test,
  onPsync: (socket: Socket, args: string[]) => void,
  password?: string,
  onAck?: (socket: Socket, offset: number) => void,
): Promise<number> {
  return commandServer(t, (args, socket) => {
    const name = args[0]!.toUpperCase();
    if (name === 'PING') socket.write(password === undefined ? '+PONG\r\n' : '-NOAUTH Authentication required.\r\n');
    else if (name === 'AUTH')
      socket.write(args[1] === password ? '+OK\r\n' : '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    else if (name === 'REPLCONF') {
      if (args[1]?.toUpperCase() !== 'ACK') socket.write('+OK\r\n');
      else onAck?.(socket, Number(args[2]));
    } else if (name === 'PSYNC') onPsync(socket, args);
  });
}

/** An RDB of `entries` (key, value), checksummed. */
function rdbOf(entries: [string, string][]): Buffer {
  const w = new ByteWriter();
  writeHeader(w, {});
  for (const [k, v] of entries) writeEntry(w, Buffer.from(k), v, 0);
  w.byte(RDB.EOF);
  const body = Buffer.from(w.take());
  const crc = new Crc64();
  crc.update(body);
  return Buffer.concat([body, crc.bytes()]);
}

t.test('the offset counts every byte of commands that arrive in pieces', async (t) => {
  const id = 'b'.repeat(40);
  const rdb = rdbOf([]);
  const cmd = (k: string, v: string): string => `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
  const first = cmd('a', 'x'.repeat(300));
  const second = cmd('b', 'y'.repeat(70_000));
  const getack = '*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n';
  const acks: number[] = [];
  let step = 0;
  let answered: (offset: number) => void = () => undefined;
  const got = new Promise<number>((resolve) => {
    answered = resolve;
  });
  const port = await fakeLeader(
    t,
    (socket) => {
      socket.write(`+FULLRESYNC ${id} 1000\r\n$${rdb.length}\r\n`);
      socket.write(rdb);
    },
    undefined,
    (socket, offset) => {
      acks.push(offset);
      // Each piece after the replica's previous ACK: it has parsed what came before, mid-command.
      step++;
      if (step === 1) socket.write(first.slice(0, 150));
      if (step === 2) socket.write(first.slice(150) + second.slice(0, 20_000));
      if (step === 3) socket.write(second.slice(20_000) + getack);
      if (step === 4) answered(offset);
    },
  );
  const cluster = await startCluster(t, { shards: 1 });
  const replica = await respOn(t, cluster, { replicaOf: { host: '127.0.0.1', port }, replAckIntervalMs: 50 });
  // The periodic ACK drives the pieces; the GETACK's answer is the offset after both commands.
  const link = linkOf(replica);
  const offset = await got;
  t.equal(offset, 1000 + first.length + second.length, `ACK ${offset} after ${acks.join(', ')}`);
  t.equal((await cluster.get('b'))?.length, 70_000);
  link.stop();
});

t.test('bad leaders: a clear reason, retries, the data kept, nothing half-applied', async (t) => {
  const id = 'a'.repeat(40);
  const good = rdbOf([['kept', '1']]);
  const corrupt = Buffer.from(good);
  corrupt[12] = corrupt[12]! ^ 0xff;
  let syncs = 0;
  const psyncs: string[][] = [];
  // First a good snapshot, then a stream cut in the middle of a command; on the way back: a
  // corrupt snapshot (refused: the data stays).
  const port = await fakeLeader(t, (socket, args) => {
    psyncs.push(args);
    syncs++;
    if (syncs === 1) {
      socket.write(`+FULLRESYNC ${id} 100\r\n$${good.length}\r\n`);
      socket.write(good);
      socket.write('*3\r\n$3\r\nSET\r\n$4\r\nwhol\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$4\r\nhalf');
      socket.end();
    } else {
      socket.write(`+FULLRESYNC ${id} 500\r\n$${corrupt.length}\r\n`);
      socket.write(corrupt);
    }
  });
  const cluster = await startCluster(t, { shards: 1 });
  const replica = await respOn(t, cluster, { replicaOf: { host: '127.0.0.1', port } });
  const link = linkOf(replica);
  await once(link, 'synced');
  const cut = await once(link, 'failed');
  t.match(cut[0], { reason: 'the leader closed the connection' });
  t.equal(await cluster.get('whol'), '1', 'the whole command applied');
  t.equal(await cluster.get('half'), null, 'the cut one not');
  const bad = await once(link, 'failed');
  t.match(bad[0].reason, /snapshot cannot be loaded \(RDB: checksum mismatch \(corrupt\)\); keeping the current data/);
  t.same(
    psyncs[1],
    ['PSYNC', id, String(100 + '*3\r\n$3\r\nSET\r\n$4\r\nwhol\r\n$1\r\n1\r\n'.length + 1)],
    'PSYNC from after the last whole command',
  );
  t.equal(await cluster.get('kept'), '1', 'the data kept');
  t.equal(await cluster.get('whol'), '1');
  link.stop();

  // Refused, wrong password, not Redis: each a reason, and retries.
  const closed = await (async () => {
    const probe = createServer();
    const { port: p } = await listen(probe, 0, '127.0.0.1');
    await new Promise((r) => probe.close(r));
    return p;
  })();
  const locked = await fakeLeader(t, () => undefined, 'sesame');
  const http = createServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  const { port: httpPort } = await listen(http, 0, '127.0.0.1');
  t.teardown(() => http.close());
  for (const [leaderPort, opts, re] of [
    [closed, {}, /cannot connect: ECONNREFUSED/],
    [locked, {}, /the leader needs a password \(masterauth\)/],
    [locked, { masterauth: 'wrong' }, /the leader refused masterauth: WRONGPASS/],
    [httpPort, {}, /not a Redis-protocol server \(PING answered "HTTP\/1.1 400 Bad Request"\)/],
  ] as const) {
    const c = await startCluster(t, { shards: 1 });
    await c.set('mine', 'x');
    const s = await respOn(t, c, { replicaOf: { host: '127.0.0.1', port: leaderPort }, ...opts });
    const l = linkOf(s);
    const [f1] = await once(l, 'failed');
    t.match(f1.reason, re);
    const [f2] = await once(l, 'failed');
    t.equal(f2.reason, f1.reason, 'retried');
    t.match(((await (await client(t, s.context.port)).call('INFO', 'replication')) as Buffer).toString(), /master_link_status:down/);
    t.equal(await c.get('mine'), 'x', 'its data served meanwhile');
    l.stop();
  }
});

t.test(
  'a shardcache replica of a real redis-server: strings and TTLs copied, other types skipped and counted',
  { skip: hasRedis ? false : 'redis-server not installed (apt-get install redis-server)' },
  async (t) => {
    const redis = await startRedisServer(t, ['--repl-diskless-sync-delay', '0']);
    const w = await client(t, redis.port);
    const writes = [];
    for (let i = 0; i < 5000; i++) writes.push(w.call('SET', `s:${i}`, i % 3 === 0 ? 'x'.repeat(100 + i) : String(i)));
    for (let i = 0; i < 5000; i += 5) writes.push(w.call('PEXPIRE', `s:${i}`, String(3_600_000 + i)));
    writes.push(
      w.call('LPUSH', 'list', 'a', 'b'),
      w.call('HSET', 'hash', 'f', 'v'),
      w.call('SADD', 'set', 'a'),
      w.call('ZADD', 'zset', '1', 'a'),
    );
    writes.push(w.call('XADD', 'stream', '*', 'f', 'v'));
    // A consumer group writes entries_read as -1 (2^64-1), past what a JS number holds exactly.
    writes.push(w.call('XGROUP', 'CREATE', 'stream', 'g1', '0'));
    await Promise.all(writes);
    const cluster = await startCluster(t, { shards: 2 });
    const replica = await respOn(t, cluster, { replicaOf: { host: '127.0.0.1', port: redis.port } });
    const link = linkOf(replica);
    await once(link, 'synced');
    // Live writes: strings apply; a list command is skipped and counted.
    const live = [];
    for (let i = 0; i < 1000; i++)
      live.push(w.call('SET', `s:${i}`, `live${i}`), w.call('INCR', 'counter'), w.call('DEL', `s:${4000 + i}`));
    live.push(w.call('RPUSH', 'list', 'c'), w.call('EXPIRE', 's:1', '500'));
    await Promise.all(live);
    t.equal(await w.call('WAIT', '1', '0'), 1, 'redis-server counts our acknowledgement');
    const r = await client(t, replica.context.port);
    const [a, b] = [await dumpAll(w), await dumpAll(r)];
    const strings = new Map([...a].filter(([k]) => !['list', 'hash', 'set', 'zset', 'stream'].includes(k)));
    t.equal(b.size, strings.size, `every string key (${strings.size})`);
    t.same(differences(strings, b), [], 'values and absolute expiries equal');
    t.same(Object.fromEntries(link.skipped), { list: 1, hash: 1, set: 1, zset: 1, stream: 1, 'cmd:rpush': 1 });
    t.match(((await r.call('INFO', 'replication')) as Buffer).toString(), /shardcache_skipped_keys:.*list=1/);
  },
);

t.test('shardcache start --replicaof: a replica process', async (t) => {
  const leaderCluster = await startCluster(t, { shards: 2 });
  const leader = await respOn(t, leaderCluster);
  await leaderCluster.set('from', 'leader');
  const bad = await cli('start', '--replicaof', 'nowhere', '--port', '0', '--http-port', '0');
  t.equal(bad.code, 2);
  t.match(bad.err, /--replicaof must be HOST:PORT/);
  const proc = run(['start', '--port', '0', '--http-port', '0', '--replicaof', `127.0.0.1:${leader.context.port}`, '--log-level', 'info']);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const [, restPort, respPort] = (await waitFor(
    proc,
    /REST http:\/\/127\.0\.0\.1:(\d+), RESP redis:\/\/127\.0\.0\.1:(\d+)/,
  )) as unknown as string[];
  // Its log says when the snapshot is loaded; then the leader waits for its acknowledgement.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (/full resync: snapshot loaded/.test(proc.err())) resolve();
    };
    proc.child.stderr!.on('data', check);
    check();
  });
  const w = await client(t, leader.context.port);
  t.equal(await w.call('WAIT', '1', '0'), 1);
  const r = await client(t, Number(respPort));
  t.equal(String(await r.call('GET', 'from')), 'leader');
  oneLineError(
    t,
    await cli('set', 'x', '1', '--url', `http://127.0.0.1:${restPort}`),
    /^ › {3}Error: not leader: READONLY .*\(the leader is 127\.0\.0\.1:\d+\)$/,
    'set',
  );
  t.match(proc.err(), /"msg":"full resync: snapshot loaded"/);
});
