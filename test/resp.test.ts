// The RESP front end: exact reply bytes for raw requests (pipelined, inline, split), Redis's
// error strings, auth, and a real client (ioredis) driving the cluster.
import { Redis } from 'ioredis';
import t from 'tap';
import { startCluster } from './helpers/cluster.js';
import { check, Raw, serve } from './helpers/resp.js';

t.test('raw protocol: pipelining, inline, errors', async (t) => {
  const c = await startCluster(t);
  const port = await serve(t, c);
  const r = new Raw(port);
  t.teardown(() => r.end());
  // A pipeline across shards, replies in request order.
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
  r.send(keys.map((k) => `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$2\r\nv${k.length - 1}\r\n`).join(''));
  await check(t, r, '+OK\r\n'.repeat(20), 'twenty OKs');
  r.send(keys.map((k) => `*2\r\n$3\r\nGET\r\n$${k.length}\r\n${k}\r\n`).join(''));
  await check(t, r, keys.map((k) => `$2\r\nv${k.length - 1}\r\n`).join(''), 'values in order');
  r.send('PING\r\nECHO "hello world"\r\n');
  await check(t, r, '+PONG\r\n$11\r\nhello world\r\n');
  r.send('GET nope\r\nINCR n\r\nINCRBY n 41\r\nGET n\r\n');
  await check(t, r, '$-1\r\n:1\r\n:42\r\n$2\r\n42\r\n');
  r.send('SET k0 abc\r\nINCR k0\r\n');
  await check(t, r, '+OK\r\n-ERR value is not an integer or out of range\r\n');
  r.send('FOO bar baz\r\nGET\r\nSET a b NX XX\r\nSET a b EX 0\r\nSET a b EX x\r\n');
  await check(
    t,
    r,
    "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n" +
      "-ERR wrong number of arguments for 'get' command\r\n" +
      '-ERR syntax error\r\n' +
      "-ERR invalid expire time in 'set' command\r\n" +
      '-ERR value is not an integer or out of range\r\n',
  );
  r.send('SET t v EX 100\r\nTTL t\r\nPERSIST t\r\nTTL t\r\nTTL nope\r\nEXPIRE t 50 XX\r\nEXPIRE t 50 NX XX\r\n');
  await check(t, r, '+OK\r\n:100\r\n:1\r\n:-1\r\n:-2\r\n:0\r\n-ERR NX and XX, GT or LT options at the same time are not compatible\r\n');
  // XX with LT: only a key that has a TTL, and only to shorten it (a persistent key is untouched).
  r.send('EXPIRE t 50 XX LT\r\nTTL t\r\nEXPIRE t 50 LT\r\nEXPIRE t 80 XX LT\r\nEXPIRE t 20 XX LT\r\nTTL t\r\nEXPIRE t 9 GT LT\r\n');
  await check(t, r, ':0\r\n:-1\r\n:1\r\n:0\r\n:1\r\n:20\r\n-ERR GT and LT options at the same time are not compatible\r\n');
  r.send('MSET a 1 b 2\r\nMGET a nope b\r\nEXISTS a b nope\r\nDEL a b nope\r\nTYPE a\r\nTYPE k1\r\n');
  await check(t, r, '+OK\r\n*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n:2\r\n:2\r\n+none\r\n+string\r\n');
  r.send('SET g old\r\nGETSET g new\r\nSET g newer GET\r\nSETNX g x\r\nSETEX s 10 v\r\nTTL s\r\n');
  await check(t, r, '+OK\r\n$3\r\nold\r\n$3\r\nnew\r\n:0\r\n+OK\r\n:10\r\n');
  r.send('APPEND ap Hello\r\nAPPEND ap " World"\r\nSTRLEN ap\r\nGETRANGE ap -5 -1\r\nSETRANGE ap 6 Redis\r\nGET ap\r\n');
  await check(t, r, ':5\r\n:11\r\n:11\r\n$5\r\nWorld\r\n:11\r\n$11\r\nHello Redis\r\n');
  r.send(
    'SETRANGE ap -1 x\r\nGETDEL ap\r\nGETDEL ap\r\nSET gx v\r\nGETEX gx EX 100\r\nTTL gx\r\nGETEX gx PERSIST\r\nTTL gx\r\nGETEX gx EX 0\r\n',
  );
  await check(
    t,
    r,
    "-ERR offset is out of range\r\n$11\r\nHello Redis\r\n$-1\r\n+OK\r\n$1\r\nv\r\n:100\r\n$1\r\nv\r\n:-1\r\n-ERR invalid expire time in 'getex' command\r\n",
  );
  r.send('INCRBYFLOAT fl 10.5\r\nINCRBYFLOAT fl 0.1\r\nINCRBYFLOAT fl abc\r\nSET nf x\r\nINCRBYFLOAT nf 1\r\n');
  await check(t, r, '$4\r\n10.5\r\n$4\r\n10.6\r\n-ERR value is not a valid float\r\n+OK\r\n-ERR value is not a valid float\r\n');
  r.send(
    'SET rn 1\r\nRENAME rn rn2\r\nGET rn2\r\nRENAME rn x\r\nRENAMENX rn2 k1\r\nCOPY rn2 cp\r\nCOPY rn2 cp\r\nCOPY rn2 cp DB 1\r\nMSETNX m1 a m2 b\r\nMSETNX m2 c m3 d\r\n',
  );
  await check(t, r, '+OK\r\n+OK\r\n$1\r\n1\r\n-ERR no such key\r\n:0\r\n:1\r\n:0\r\n-ERR DB index is out of range\r\n:1\r\n:0\r\n');
  r.send('COPY rn2 rn2\r\n');
  await check(t, r, '-ERR source and destination objects are the same\r\n');
  r.send('SELECT 0\r\nSELECT 1\r\nDBSIZE\r\n');
  await check(t, r, '+OK\r\n-ERR DB index is out of range\r\n');
  t.match(await r.until('\r\n'), /^:\d+\r\n$/, 'DBSIZE');
  // Malformed protocol: an error, then the connection closes; other clients are unaffected.
  const bad = new Raw(port);
  bad.send('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n:1\r\n');
  await check(t, bad, "+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n");
  await bad.closedByServer();
  t.ok(bad.closed, 'closed after a protocol error');
  r.send('PING\r\n');
  await check(t, r, '+PONG\r\n', 'the other client keeps being served');
  r.send('QUIT\r\n');
  await check(t, r, '+OK\r\n');
  await r.closedByServer();
});

t.test('CONFIG GET answers what redis-benchmark and clients ask; CLIENT KILL closes connections', async (t) => {
  const c = await startCluster(t, { shards: 1, maxMemoryBytes: 1024 * 1024 });
  const port = await serve(t, c, { maxClients: 77 });
  const r = new Raw(port);
  const victim = new Raw(port);
  t.teardown(() => {
    r.end();
    victim.end();
  });
  r.send('CONFIG GET save\r\nCONFIG GET appendonly\r\nCONFIG GET maxmemory*\r\nCONFIG GET MAXCLIENTS nope\r\n');
  await check(t, r, '*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n');
  await check(t, r, '*4\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n');
  await check(t, r, '*2\r\n$10\r\nmaxclients\r\n$2\r\n77\r\n', 'case-insensitive; unknown names are left out');
  r.send('CONFIG SET maxmemory 1\r\nCONFIG GET\r\nCONFIG FOO\r\n');
  await check(
    t,
    r,
    "-ERR CONFIG SET is not supported: shardcache is configured by the flags of 'shardcache start'\r\n" +
      "-ERR wrong number of arguments for 'config|get' command\r\n-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n",
  );
  victim.send('CLIENT ID\r\n');
  const id = Number(/^:(\d+)\r\n$/.exec(await victim.until('\r\n'))?.[1]);
  r.send(`CLIENT KILL 127.0.0.1:1\r\nCLIENT KILL ID ${id} SKIPME yes\r\nCLIENT KILL ID ${id}\r\nCLIENT KILL ID 1 SKIPME\r\n`);
  await check(t, r, `-ERR No such client\r\n:1\r\n:0\r\n-ERR syntax error\r\n`, 'killed once; then no such client');
  await victim.closedByServer();
  t.ok(victim.closed, 'the killed connection is closed');
  r.send('PING\r\n');
  await check(t, r, '+PONG\r\n', 'the killer is not');
});

t.test('auth, HELLO and RESP3', async (t) => {
  const c = await startCluster(t, { shards: 1 });
  const port = await serve(t, c, { password: 's3cret' });
  const r = new Raw(port);
  t.teardown(() => r.end());
  r.send('GET a\r\nAUTH wrong\r\nAUTH s3cret\r\nGET a\r\n');
  await check(t, r, '-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$-1\r\n');
  r.send('HELLO 3\r\nPING\r\n');
  const hello = await r.until('+PONG\r\n');
  t.match(hello, /^%7\r\n\$6\r\nserver\r\n/, 'a RESP3 map');
  t.match(hello, /\$5\r\nproto\r\n:3\r\n/);
  const r3 = new Raw(port);
  t.teardown(() => r3.end());
  r3.send('HELLO 3 AUTH default s3cret\r\nGET nope\r\nHELLO 4\r\n');
  const all = await r3.until('NOPROTO unsupported protocol version\r\n');
  t.match(all, /^%7\r\n/);
  t.match(all, /_\r\n-NOPROTO unsupported protocol version\r\n$/, 'RESP3 null, then NOPROTO');
});

t.test('ioredis drives the cluster', async (t) => {
  const c = await startCluster(t);
  const port = await serve(t, c);
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  await client.connect();
  t.teardown(() => client.disconnect());
  t.equal(await client.set('foo', 'bar'), 'OK');
  t.equal(await client.get('foo'), 'bar');
  const binary = Buffer.from([0, 255, 1, 254]);
  await client.set(Buffer.from([9, 9]), binary);
  t.same(await client.getBuffer(Buffer.from([9, 9])), binary, 'binary-safe');
  const p = client.pipeline();
  for (let i = 0; i < 100; i++) p.set(`p${i}`, `${i}`);
  for (let i = 0; i < 100; i++) p.get(`p${i}`);
  const res = (await p.exec())!;
  t.same(
    res.slice(100).map((x) => x[1]),
    Array.from({ length: 100 }, (_, i) => `${i}`),
    'a 200-command pipeline over every shard',
  );
  t.equal(await client.incrby('counter', 5), 5);
  t.equal(await client.dbsize(), 103);
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', 'p*', 'COUNT', 20);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  t.equal(new Set(keys).size, 100, 'SCAN with MATCH and COUNT over the whole cluster');
  t.equal((await client.keys('p1*')).length, 11);
  t.match(await client.info('keyspace'), /db0:keys=103/);
  t.match(await client.info(), /# Shards\r\nshards:3/);
  await t.rejects(client.call('NOPE'), /unknown command 'NOPE'/);
  t.equal(await client.flushall(), 'OK');
  t.equal(await client.dbsize(), 0);
  t.ok(((await client.command('COUNT')) as unknown as number) > 30);
  t.equal(await client.client('SETNAME', 'tester'), 'OK');
  t.equal(await client.client('GETNAME'), 'tester');
  t.match(await client.client('LIST'), /name=tester/);
  t.equal(await client.ping(), 'PONG');
  t.equal(await client.quit(), 'OK');
});
