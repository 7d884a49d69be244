// Real Redis clients against the RESP port: node-redis (RESP2 and its pipelining), ioredis and
// node-redis reconnecting, and redis-cli (when installed: .ci/run installs redis-tools), unmodified.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import t from 'tap';
import { startCluster, type Teardown } from './helpers/cluster.js';
import { serve as serveResp, startResp } from './helpers/resp.js';

async function serve(t: Teardown, password?: string): Promise<number> {
  return serveResp(t, await startCluster(t), { password: password ?? null });
}

t.test('node-redis', async (t) => {
  const port = await serve(t, 'pw');
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, password: 'pw' });
  client.on('error', () => undefined);
  await client.connect();
  t.teardown(() => client.disconnect().catch(() => undefined));
  t.equal(await client.set('a', '1'), 'OK');
  t.equal(await client.get('a'), '1');
  t.equal(await client.incrBy('a', 41), 42);
  t.same(await client.mGet(['a', 'missing']), ['42', null]);
  // Commands issued in the same tick go out as one pipeline; replies come back in order.
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? client.set(`k${i}`, `v${i}`) : client.get(`k${i - 1}`))),
  );
  t.same(
    replies.filter((_, i) => i % 2 === 1),
    Array.from({ length: 100 }, (_, i) => `v${i * 2}`),
  );
  t.equal(await client.expire('a', 100), true);
  t.equal(await client.ttl('a'), 100);
  t.equal(await client.del(['a', 'k0', 'missing']), 2);
  t.ok((await client.dbSize()) >= 99);
  t.match(await client.info('server'), /redis_version:7/);
  await t.rejects(client.sendCommand(['NOPE']), /unknown command 'NOPE'/);
});

t.test('ioredis and node-redis reconnect when the server drops their connections', async (t) => {
  const server = await startResp(t, await startCluster(t));
  const { port } = server.context;
  const io = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  const nr = createClient({ socket: { host: '127.0.0.1', port } });
  nr.on('error', () => undefined);
  io.on('error', () => undefined);
  await io.connect();
  await nr.connect();
  t.teardown(async () => {
    io.disconnect();
    await nr.disconnect().catch(() => undefined);
  });
  t.equal(await io.set('from-io', Buffer.from([0, 255])), 'OK');
  t.equal(await nr.set('from-nr', 'v'), 'OK');
  // Not events.once: both clients report the dropped socket as an 'error' before they are back.
  const ioBack = new Promise((resolve) => io.once('ready', resolve));
  const nrBack = new Promise((resolve) => nr.once('ready', resolve));
  server.destroyConnections();
  await Promise.all([ioBack, nrBack]);
  t.same(await io.getBuffer('from-io'), Buffer.from([0, 255]), 'ioredis is back, the data too');
  t.equal(await nr.get('from-nr'), 'v', 'node-redis is back');
  t.ok(server.context.stats.connections >= 4, 'both connected twice');
});

const hasCli = spawnSync('redis-cli', ['--version']).status === 0;

t.test('redis-cli', { skip: hasCli ? false : 'redis-cli not installed (apt-get install redis-tools)' }, async (t) => {
  const port = await serve(t);
  const cli = async (...args: string[]): Promise<string> =>
    (await promisify(execFile)('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' })).stdout;
  t.equal(await cli('PING'), 'PONG\n');
  t.equal(await cli('SET', 'greeting', 'hello world'), 'OK\n');
  t.equal(await cli('GET', 'greeting'), 'hello world\n');
  t.equal(await cli('GET', 'missing'), '\n', 'nil prints as an empty line when not a TTY');
  t.equal(await cli('INCR', 'n'), '1\n');
  t.equal(await cli('MGET', 'greeting', 'n'), 'hello world\n1\n');
  t.match(await cli('INFO', 'shards'), /shards:3/);
  t.match(await cli('NOPE'), /unknown command 'NOPE'/);
  // A pipeline from stdin (redis-cli --pipe speaks raw RESP).
  const input = Array.from({ length: 1000 }, (_, i) => `SET pipe:${i} ${i}\r\n`).join('');
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    const child = execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--pipe'], { encoding: 'utf8' }, (err, out) =>
      err ? reject(err) : resolve({ stdout: out }),
    );
    child.stdin!.end(input);
  });
  t.match(stdout, /errors: 0, replies: 1000/);
  t.equal(await cli('GET', 'pipe:999'), '999\n');
});
