// The bench's RESP client: replies parsed whole, byte by byte and split at every boundary; error
// replies as values; pipelined calls against a real server answered in order; failures.
import { createServer } from 'node:net';
import t from 'tap';
import { freePort } from '../bench/ports.js';
import { RespClient } from '../src/client/resp.js';
import { ReplyParser, RespErrorReply, RespProtocolError, type RespReply } from '../src/resp/reply-parser.js';
import { listen } from '../src/server/rest.js';
import { startCluster } from './helpers/cluster.js';
import { serve } from './helpers/resp.js';

const stream = Buffer.from(
  '+OK\r\n-ERR wrong \u00e9\r\n:42\r\n:-7\r\n$5\r\nab\r\nc\r\n$0\r\n\r\n$-1\r\n*3\r\n$1\r\na\r\n*1\r\n:1\r\n$-1\r\n*-1\r\n*0\r\n',
  'utf8',
);
const expected: RespReply[] = [
  'OK',
  new RespErrorReply('ERR wrong \u00e9'),
  42,
  -7,
  Buffer.from('ab\r\nc'),
  Buffer.alloc(0),
  null,
  [Buffer.from('a'), [1], null],
  null,
  [],
];

function drain(p: ReplyParser): RespReply[] {
  const out: RespReply[] = [];
  for (let r = p.next(); r !== undefined; r = p.next()) out.push(r);
  return out;
}

t.test('replies whole, byte by byte, and split at every boundary', async (t) => {
  const whole = new ReplyParser();
  whole.push(stream);
  t.same(drain(whole), expected, 'whole');
  const bytes = new ReplyParser();
  const got: RespReply[] = [];
  for (const b of stream) {
    bytes.push(Buffer.from([b]));
    got.push(...drain(bytes));
  }
  t.same(got, expected, 'byte by byte');
  for (let at = 1; at < stream.length; at++) {
    const p = new ReplyParser();
    p.push(stream.subarray(0, at));
    const first = drain(p);
    p.push(stream.subarray(at));
    if (!t.same([...first, ...drain(p)], expected, `split at ${at}`)) break;
  }
});

t.test('a large reply in many chunks: arrays resume where they stopped, bulks are gathered whole', async (t) => {
  const big = Buffer.alloc(3 << 20, 0x61);
  big[0] = 0x62;
  big[big.length - 1] = 0x63;
  const stream = Buffer.concat([
    Buffer.from(`*3\r\n$${big.length}\r\n`),
    big,
    Buffer.from(`\r\n*2\r\n:1\r\n$-1\r\n$${big.length}\r\n`),
    big,
    Buffer.from('\r\n+OK\r\n'),
  ]);
  const p = new ReplyParser();
  const got: RespReply[] = [];
  for (let i = 0; i < stream.length; i += 65_536) {
    p.push(stream.subarray(i, i + 65_536));
    for (let r = p.next(); r !== undefined; r = p.next()) got.push(r);
  }
  t.equal(got.length, 2, 'the array, then +OK');
  const [arr, ok] = got as [RespReply[], string];
  t.ok(Buffer.isBuffer(arr[0]) && (arr[0] as Buffer).equals(big), 'first bulk whole');
  t.same(arr[1], [1, null], 'nested array');
  t.ok((arr[2] as Buffer).equals(big), 'second bulk whole');
  t.equal(ok, 'OK');
});

t.test('bytes that are not RESP2 are a protocol error', async (t) => {
  for (const [bad, re] of [
    ['HTTP/1.1 400 Bad Request\r\n', /unexpected reply type byte 0x48/],
    [':12x\r\n', /bad integer "12x"/],
    ['$-5\r\n', /bad bulk length/],
    ['*-2\r\n', /bad array length/],
  ] as const) {
    const p = new ReplyParser();
    p.push(Buffer.from(bad));
    t.throws(() => p.next(), RespProtocolError);
    const q = new ReplyParser();
    q.push(Buffer.from(bad));
    t.throws(() => q.next(), re);
  }
});

t.test('a pipelined client against the server: replies in order, errors as values', async (t) => {
  const cluster = await startCluster(t, { shards: 2 });
  const port = await serve(t, cluster);
  const c = await RespClient.connect('127.0.0.1', port);
  t.teardown(() => c.close());
  const calls = [];
  for (let i = 0; i < 500; i++) calls.push(c.call('SET', `k${i}`, `v${i}`), c.call('GET', `k${i}`));
  calls.push(c.call('INCR', 'k1'), c.call('MGET', 'k1', 'nope', 'k499'), c.call('PING'), c.call('NOSUCH'));
  const replies = await Promise.all(calls);
  for (let i = 0; i < 500; i++) {
    t.equal(replies[2 * i], 'OK');
    t.same(replies[2 * i + 1], Buffer.from(`v${i}`));
  }
  const [incr, mget, pong, unknown] = replies.slice(1000);
  t.match(incr, new RespErrorReply('ERR value is not an integer or out of range'));
  t.same(mget, [Buffer.from('v1'), null, Buffer.from('v499')]);
  t.equal(pong, 'PONG');
  t.ok(unknown instanceof RespErrorReply && /unknown command 'NOSUCH'/.test(unknown.message));
  t.equal(await c.call('SET', 'ü', 'ÿ'), 'OK', 'UTF-8 arguments are sent with their byte lengths');
  t.same(await c.call('GET', 'ü'), Buffer.from('ÿ'));
});

t.test('connection failures: refused, closed by the server, a peer that is not RESP', async (t) => {
  // A port nothing listens on: one that was free a moment ago.
  const closedPort = await freePort();
  await t.rejects(RespClient.connect('127.0.0.1', closedPort), { code: 'ECONNREFUSED' });

  // A server that answers anything with HTTP and hangs up.
  const http = createServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  const { port } = await listen(http, 0, '127.0.0.1');
  t.teardown(() => http.close());
  const c = await RespClient.connect('127.0.0.1', port);
  await t.rejects(c.call('PING'), /not a Redis-protocol reply: unexpected reply type byte 0x48/);
  await t.rejects(c.call('PING'), /not a Redis-protocol reply/, 'later calls fail at once');

  // The server closes while calls wait.
  const silent = createServer((s) => s.once('data', () => s.destroy()));
  const { port: silentPort } = await listen(silent, 0, '127.0.0.1');
  t.teardown(() => silent.close());
  const d = await RespClient.connect('127.0.0.1', silentPort);
  await t.rejects(Promise.all([d.call('GET', 'a'), d.call('GET', 'b')]), /connection closed|ECONNRESET/);
  await d.close();
});
