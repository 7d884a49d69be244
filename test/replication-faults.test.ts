// shardcache as a replica in the hard cases: commands that arrive in pieces (exact offsets), bad
// leaders (refusing, wrong password, not Redis, a corrupt snapshot, a stream cut mid-command), a
// real redis-server leader (strings and TTLs copied, other types skipped and counted), and a
// replica process started with --replicaof; a replica inside a host app (createReplica).
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { freePort } from '../bench/ports.js';
import { createReplica } from '../src/index.js';
import { RespClient } from '../src/client/resp.js';
import { ByteWriter } from '../src/byte-writer.js';
import { Crc64 } from '../src/rdb/crc64.js';
import { RDB, writeEntry, writeHeader } from '../src/rdb/format.js';
import { listen } from '../src/server/rest.js';
import { cli, oneLineError, run, waitFor } from './helpers/cli.js';
import { startCluster } from './helpers/cluster.js';
import { differences, dumpAll } from './helpers/dataset.js';
import { hasRedis, startRedisServer } from './helpers/redis.js';
import { client, linkOf, respOn } from './helpers/replication.js';
import { commandServer } from './helpers/resp.js';

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
      // The GETACK's answer (a periodic ACK may come first, with less).
      if (step >= 4 && offset >= 1000 + first.length + second.length) answered(offset);
    },
  );
  const cluster = await startCluster(t, { shards: 1 });
  const replica = await respOn(t, cluster, { replicaOf: { host: '127.0.0.1', port }, replAckIntervalMs: 50 });
  // The periodic ACK drives the pieces; the GETACK's answer is the offset after both commands.
  const link = linkOf(replica);
  const offset = await got;
  t.equal(offset, 1000 + first.length + second.length, `ACK ${offset} after ${acks.join(', ')}`);
  const whole = [1000, 1000 + first.length, 1000 + first.length + second.length];
  t.ok(
    acks.every((a) => whole.includes(a)),
    'every ACK on a command boundary: a command read in part never counted',
  );
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
  const closed = await freePort();
  const locked = await fakeLeader(t, () => undefined, 'sesame');
  // Answers the handshake, then says nothing to PSYNC.
  const mute = await fakeLeader(t, () => undefined);
  const http = createServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  const { port: httpPort } = await listen(http, 0, '127.0.0.1');
  t.teardown(() => http.close());
  for (const [leaderPort, opts, re] of [
    [closed, {}, /cannot connect: ECONNREFUSED/],
    [locked, {}, /the leader needs a password \(masterauth\)/],
    [locked, { masterauth: 'wrong' }, /the leader refused masterauth: WRONGPASS/],
    [httpPort, {}, /not a Redis-protocol server \(PING answered "HTTP\/1.1 400 Bad Request"\)/],
    [mute, { replTimeoutMs: 300 }, /no data from the leader for 0\.3 s/],
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

/** Resolves once `proc`'s stderr holds `re` at least `times` times (its JSON log lines). */
function logged(proc: ReturnType<typeof run>, re: RegExp, times = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if ((proc.err().match(new RegExp(re.source, 'g')) ?? []).length >= times) {
        proc.child.stderr!.off('data', check);
        resolve();
      }
    };
    proc.child.stderr!.on('data', check);
    void proc.exit.then((code) => reject(new Error(`exited ${code} before ${times}× ${re}: ${proc.err()}`)));
    check();
  });
}

t.test('processes: a leader and a `start --replicaof` replica; the leader killed and restarted', async (t) => {
  const bad = await cli('start', '--replicaof', 'nowhere', '--port', '0', '--http-port', '0');
  t.equal(bad.code, 2);
  t.match(bad.err, /--replicaof must be HOST:PORT/);
  const startLeader = async (port: number): Promise<{ proc: ReturnType<typeof run>; port: number }> => {
    const proc = run(['start', '--port', String(port), '--http-port', '0', '--log-level', 'warn']);
    t.teardown(() => proc.child.kill('SIGKILL'));
    const [, p] = (await waitFor(proc, /RESP redis:\/\/127\.0\.0\.1:(\d+)/)) as unknown as string[];
    return { proc, port: Number(p) };
  };
  const first = await startLeader(0);
  const w = await RespClient.connect('127.0.0.1', first.port);
  for (let i = 0; i < 1000; i++) void w.call('SET', `k${i}`, `v${i}`, 'PX', String(3_600_000 + i));
  t.equal(await w.call('SET', 'from', 'leader'), 'OK');
  const replica = run(['start', '--port', '0', '--http-port', '0', '--replicaof', `127.0.0.1:${first.port}`, '--log-level', 'info']);
  t.teardown(() => replica.child.kill('SIGKILL'));
  const [, restPort, respPort] = (await waitFor(
    replica,
    /REST http:\/\/127\.0\.0\.1:(\d+), RESP redis:\/\/127\.0\.0\.1:(\d+), replica of 127\.0\.0\.1:\d+/,
  )) as unknown as string[];
  await logged(replica, /full resync: snapshot loaded/);
  t.equal(await w.call('WAIT', '1', '0'), 1, 'the replica process acknowledged');
  const r = await client(t, Number(respPort));
  t.same(differences(await dumpAll(w), await dumpAll(r)), [], 'the same data, expiries included');
  oneLineError(
    t,
    await cli('set', 'x', '1', '--url', `http://127.0.0.1:${restPort}`),
    /^ › {3}Error: not leader: READONLY .*\(the leader is 127\.0\.0\.1:\d+\)$/,
    'set',
  );
  await w.close();

  // The leader dies; the replica keeps serving, says why, and retries.
  first.proc.child.kill('SIGKILL');
  await first.proc.exit;
  await logged(replica, /replication link failed; retrying/);
  t.equal(String(await r.call('GET', 'from')), 'leader', 'reads served while the leader is gone');
  t.match(String(await r.call('INFO', 'replication')), /master_link_status:down/);
  // A new leader process on the same port, with other data: a new history, so a full resync.
  const second = await startLeader(first.port);
  const w2 = await RespClient.connect('127.0.0.1', second.port);
  t.teardown(() => w2.close());
  t.equal(await w2.call('SET', 'fresh', 'start'), 'OK');
  await logged(replica, /full resync: snapshot loaded/, 2);
  t.equal(await w2.call('WAIT', '1', '0'), 1);
  t.same(differences(await dumpAll(w2), await dumpAll(r)), [], 'the new leader’s data only');
});

t.test('createReplica: a replica inside a host app — reads follow the leader, writes reject with READONLY', async (t) => {
  const leaderCluster = await startCluster(t, { shards: 2 });
  const leader = await respOn(t, leaderCluster);
  await leaderCluster.set('a', '1');
  await t.rejects(createReplica({ leader: 'nowhere' }), { code: 'EINVAL', message: /options.leader must be HOST:PORT/ });
  const replica = await createReplica({ leader: `127.0.0.1:${leader.context.port}`, shards: 1 });
  t.teardown(() => replica.close());
  await once(replica.replication, 'synced');
  t.equal(await replica.get('a'), '1', 'the snapshot');
  const w = await client(t, leader.context.port);
  await w.call('SET', 'b', '2');
  t.equal(await w.call('WAIT', '1', '0'), 1);
  t.same(await replica.mget(['a', 'b', 'c']), ['1', '2', null], 'the stream');
  const writes: (() => Promise<unknown>)[] = [
    () => replica.set('x', '1'),
    () => replica.del('a'),
    () => replica.incr('n'),
    () => replica.flushall(),
  ];
  for (const write of writes)
    await t.rejects(write() as Promise<void>, {
      name: 'CacheError',
      code: 'READONLY',
      message: new RegExp(`the leader is 127\\.0\\.0\\.1:${leader.context.port}`),
    });
  t.equal(await replica.get('a'), '1', 'nothing changed');
  t.equal(replica.replication.state, 'connected');
});
