// Output buffers bounded in bytes: a client that stops reading is no longer read once about 8 MB
// of its replies wait, and is read again when it reads; client-output-buffer-limit closes normal
// clients and replicas (PSYNC attempts included) past their hard limit, logging who and which class.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { exclusive } from '../src/cluster.js';
import { leaderOf } from '../src/replication/leader.js';
import { DEFAULT_OUTPUT_LIMITS, formatOutputLimits, OutputWatch, parseOutputLimits } from '../src/resp/output-limits.js';
import { startCluster } from './helpers/cluster.js';
import { Logs, Raw, respClient, startResp } from './helpers/resp.js';

const MiB = 1024 * 1024;

const cmd = (...args: (string | Buffer)[]): Buffer =>
  Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((a) => {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
      return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')];
    }),
  ]);

t.test('client-output-buffer-limit: parsed and formatted as Redis has it', async (t) => {
  t.same(parseOutputLimits('normal 1gb 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60'), DEFAULT_OUTPUT_LIMITS);
  t.same(parseOutputLimits('slave 10mb 1mb 5'), { ...DEFAULT_OUTPUT_LIMITS, replica: { hard: 10 * MiB, soft: MiB, softSeconds: 5 } });
  t.equal(formatOutputLimits(DEFAULT_OUTPUT_LIMITS), 'normal 1073741824 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60');
  t.match(parseOutputLimits('normal 1gb 0'), /groups of 4/);
  t.match(parseOutputLimits('other 1 1 1'), /unknown client class/);
  t.match(parseOutputLimits('normal lots 0 0'), /not one/);
  const passed: string[] = [];
  let bytes = 0;
  const w = new OutputWatch(
    { hard: 100, soft: 50, softSeconds: 0 },
    () => bytes,
    (which) => passed.push(which),
  );
  t.notOk(w.check(50), 'at the soft limit: fine');
  t.ok(w.check(51), 'past a soft limit of 0 seconds: at once');
  t.same(passed, ['soft']);
  t.notOk(w.check(500), 'stopped once passed');
  const hard = new OutputWatch(
    { hard: 100, soft: 0, softSeconds: 0 },
    () => bytes,
    (which) => passed.push(which),
  );
  bytes = 101;
  t.ok(hard.check());
  t.same(passed, ['soft', 'hard']);
  // Soft limit for some seconds: passed when still over it when the time is up; back under it disarms.
  let fire: (() => void) | null = null;
  let armedMs = 0;
  const timers = {
    set: (fn: () => void, ms: number) => {
      fire = fn;
      armedMs = ms;
      return fn;
    },
    clear: () => {
      fire = null;
    },
  };
  const soft: string[] = [];
  const sw = new OutputWatch(
    { hard: 0, soft: 50, softSeconds: 60 },
    () => bytes,
    (which) => soft.push(which),
    timers,
  );
  bytes = 80;
  t.notOk(sw.check(), 'over the soft limit: not yet');
  t.equal(armedMs, 60_000, 'a timer for soft-seconds');
  t.notOk(sw.check(10), 'back under it');
  t.equal(fire, null, 'disarmed');
  sw.check(80);
  bytes = 90;
  (fire as unknown as () => void)();
  t.same(soft, ['soft'], 'still over it after 60 s: passed');
  const sw2 = new OutputWatch(
    { hard: 0, soft: 50, softSeconds: 60 },
    () => bytes,
    (which) => soft.push(which),
    timers,
  );
  sw2.check(80);
  bytes = 20;
  (fire as unknown as () => void)();
  t.same(soft, ['soft'], 'under it when the time is up: not passed');
});

t.test('a client pipelining GETs of a 1 MiB value without reading is closed at the hard limit', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const logs = new Logs();
  const server = await startResp(t, cluster, {
    log: logs.log,
    outputLimits: { ...DEFAULT_OUTPUT_LIMITS, normal: { hard: 4 * MiB, soft: 0, softSeconds: 0 } },
  });
  const port = server.context.port;
  const c = await respClient(t, port);
  t.same(((await c.call('CONFIG', 'GET', 'client-output-buffer-limit')) as Buffer[]).map(String), [
    'client-output-buffer-limit',
    'normal 4194304 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60',
  ]);
  await c.call('SET', 'big', 'x'.repeat(MiB));
  const r = new Raw(port);
  t.teardown(() => r.end());
  r.pause();
  r.send(Buffer.concat(Array.from({ length: 64 }, () => cmd('GET', 'big'))));
  await logs.waitFor(1);
  const line = logs.lines[0]!;
  t.match(line.obj, { event: 'client-output-buffer-limit', class: 'normal', limit: 'hard', remote: /^127\.0\.0\.1:\d+$/ });
  t.match(line.msg, /\(class normal\) closed/);
  t.ok((line.obj.bytes as number) > 4 * MiB, 'past the limit');
  t.equal(server.context.sessions.size, 1, 'only the reading client is left');
  t.match(String(await c.call('INFO', 'stats')), /client_output_buffer_limit_disconnections:1\r\n/);
  t.equal(String(await c.call('GET', 'big')).length, MiB, 'the others are served');
});

t.test(
  'without a hard limit a client that does not read stops being read at ~8 MB of replies, and is read again when it reads',
  async (t) => {
    const cluster = await startCluster(t, { shards: 2 });
    const server = await startResp(t, cluster, {
      outputLimits: { ...DEFAULT_OUTPUT_LIMITS, normal: { hard: 0, soft: 0, softSeconds: 0 } },
    });
    const port = server.context.port;
    const c = await respClient(t, port);
    await c.call('SET', 'big', 'v'.repeat(MiB));
    const sock: Socket = connect(port, '127.0.0.1');
    t.teardown(() => sock.destroy());
    await once(sock, 'connect');
    let received = 0;
    let waiter: (() => void) | null = null;
    let tail = '';
    sock.on('data', (d: Buffer) => {
      received += d.length;
      tail = (tail + d.subarray(-16).toString('latin1')).slice(-16);
      waiter?.();
    });
    const readUntil = async (n: number): Promise<void> => {
      while (received < n) await new Promise<void>((r) => (waiter = r));
    };
    const GET_REPLY = MiB + `$${MiB}\r\n`.length + 2;
    // A few replies read first: the server has seen how large they are.
    sock.write(Buffer.concat(Array.from({ length: 4 }, () => cmd('GET', 'big'))));
    await readUntil(4 * GET_REPLY);
    sock.pause();
    const gets = 100;
    sock.write(Buffer.concat(Array.from({ length: gets }, () => cmd('GET', 'big'))));
    // Then large requests with small replies, until the server stops reading and our writes back up.
    const pad = cmd('SET', 'pad', Buffer.alloc(64 * 1024, 0x61));
    let sets = 0;
    while (sock.writableLength < 4 * MiB) {
      if (sets >= 4000) {
        t.fail('the server kept reading 256 MB of requests from a client that reads no replies');
        return;
      }
      sock.write(pad);
      sets++;
      await new Promise<void>((r) => setImmediate(r));
    }
    t.pass(`our writes backed up after ${sets} SETs of 64 KB`);
    const session = [...server.context.sessions.values()].find((s) => s.lastCommand !== 'NULL' && s.addr.endsWith(`:${sock.localPort}`))!;
    t.notOk(session.reading(), 'the server is not reading it');
    t.ok(session.outputBytes() < 24 * MiB, `its replies waiting are bounded (${session.outputBytes()} bytes), not 100 MiB`);
    sock.resume();
    await readUntil(4 * GET_REPLY + gets * GET_REPLY + sets * 5);
    t.equal(received, (4 + gets) * GET_REPLY + sets * 5, 'every reply came once it read');
    t.equal(tail.slice(-5), '+OK\r\n');
  },
);

t.test('PSYNC clients that never read are closed at the replica limit; concurrent syncs share one snapshot', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const logs = new Logs();
  const server = await startResp(t, cluster, {
    log: logs.log,
    outputLimits: { ...DEFAULT_OUTPUT_LIMITS, replica: { hard: 2 * MiB, soft: 0, softSeconds: 0 } },
  });
  const port = server.context.port;
  const c = await respClient(t, port);
  const value = 'r'.repeat(256 * 1024);
  await Promise.all(Array.from({ length: 96 }, (_, i) => c.call('SET', `k${i}`, value)));
  const clients = [
    ['PSYNC ? -1', 'PSYNC ? -1\r\n'],
    ['REPLCONF capa eof, PSYNC ? -1', 'REPLCONF capa eof capa psync2\r\nPSYNC ? -1\r\n'],
    ['SYNC', 'SYNC\r\n'],
  ] as const;
  const raws = clients.map(([, text]) => {
    const r = new Raw(port);
    t.teardown(() => r.end());
    r.pause();
    r.send(text);
    return r;
  });
  await logs.waitFor(clients.length);
  for (const line of logs.lines) t.match(line.obj, { event: 'client-output-buffer-limit', class: 'replica', remote: /^127\.0\.0\.1:\d+$/ });
  t.equal(leaderOf(cluster).links.size, 0, 'no replica left attached');
  t.equal(leaderOf(cluster).stats.fullSyncs, clients.length);
  t.match(String(await c.call('INFO', 'replication')), /connected_slaves:0\r\n/);
  for (const r of raws) r.end();
});

t.test('full syncs that start together share one snapshot, and each gets all of it', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const server = await startResp(t, cluster);
  const port = server.context.port;
  const c = await respClient(t, port);
  await Promise.all(Array.from({ length: 50 }, (_, i) => c.call('SET', `k${i}`, `v${i}`.repeat(100))));
  // Membership changes held: the snapshot cannot start until every sync has joined it.
  let release!: () => void;
  const held = exclusive(cluster, () => new Promise<void>((r) => (release = r)));
  const raws = Array.from({ length: 4 }, () => {
    const r = new Raw(port);
    t.teardown(() => r.end());
    r.send('PSYNC ? -1\r\n');
    return r;
  });
  for (const r of raws) t.match(await r.until('\r\n'), /^\+FULLRESYNC [0-9a-f]{40} \d+\r\n$/);
  release();
  await held;
  const rdbs: string[] = [];
  for (const r of raws) {
    const head = await r.until('\r\n');
    const len = Number(/^\$(\d+)\r\n$/.exec(head)?.[1]);
    rdbs.push(await r.read(len));
  }
  t.match(rdbs[0], /^REDIS/);
  t.ok(
    rdbs.every((x) => x === rdbs[0]),
    'the same bytes for each',
  );
  t.ok(rdbs[0]!.includes('k49') && rdbs[0]!.includes('v49'), 'the data set is in it');
  t.equal(leaderOf(cluster).stats.fullSyncs, 4);
  t.equal(leaderOf(cluster).stats.snapshots, 1, 'one snapshot for the four');
  // And each goes on with the stream.
  await c.call('SET', 'after', 'sync');
  for (const r of raws) t.match(await r.until('sync\r\n'), /after/);
});
