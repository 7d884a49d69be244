// `shardcache start` as a user runs it: the ready line, the REST API, clean shutdown on signals,
// a one-line error and exit 1 for a port in use, exit 2 for usage errors.
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import t from 'tap';
import { run, waitFor } from './helpers/cli.js';

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`start serves REST, then ${signal} shuts it down cleanly`, async (t) => {
    const r = run(['start', '--http-port', '0', '--port', '0', '--shards', '2']);
    const m = await waitFor(r, /ready: 2 shards, REST (http:\/\/127\.0\.0\.1:(\d+)), RESP redis:\/\/127\.0\.0\.1:(\d+)\n/);
    const base = m[1]!;
    const set = await fetch(`${base}/set?key=foo&value=bar`, { method: 'POST' });
    t.equal(set.status, 201);
    t.match(await set.json(), { key: 'foo', node: /^node-[12]$/ });
    const got = await fetch(`${base}/get?key=foo`);
    t.match(await got.json(), { value: 'bar' });
    r.child.kill(signal);
    t.equal(await r.exit, 0, 'exit code 0');
    t.match(r.out(), `${signal} received, shutting down`);
    // stderr: the structured log, one JSON object per line, at the default level (info).
    const logs = r
      .err()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { level: number; event: string; msg: string; signal?: string });
    t.same(
      logs.map((l) => l.event),
      ['ready', 'shutdown'],
      'ready, then shutdown',
    );
    t.match(logs[0], { level: 30, shards: 2, msg: 'ready' });
    t.match(logs[1], { level: 30, signal });
  });
}

t.test('start --log-level: debug adds client connections and epochs, warn keeps only trouble', async (t) => {
  const debug = run(['start', '--http-port', '0', '--port', '0', '--shards', '1', '--log-level', 'debug']);
  const warn = run(['start', '--http-port', '0', '--port', '0', '--shards', '1', '--log-level', 'warn']);
  t.teardown(() => {
    debug.child.kill('SIGKILL');
    warn.child.kill('SIGKILL');
  });
  for (const r of [debug, warn]) {
    const [, base, resp] = await waitFor(r, /REST (http:\/\/127\.0\.0\.1:\d+), RESP redis:\/\/127\.0\.0\.1:(\d+)\n/);
    const sock = connect(Number(resp), '127.0.0.1');
    await once(sock, 'connect');
    sock.resume();
    sock.end('PING\r\n');
    await once(sock, 'close');
    t.equal((await fetch(`${base}/cluster/shards`, { method: 'POST' })).status, 201, 'a shard joins');
    r.child.kill('SIGTERM');
    t.equal(await r.exit, 0);
  }
  const events = (r: typeof debug): string[] =>
    r
      .err()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { event: string }).event);
  t.same(new Set(events(debug)), new Set(['ready', 'client', 'epoch', 'migration', 'join', 'shutdown']), 'debug');
  t.same(events(warn), [], 'warn: nothing went wrong');
});

t.test('start --replicas 2: a cluster whose keys survive a shard leaving', async (t) => {
  const r = run(['start', '--http-port', '0', '--port', '0', '--shards', '3', '--replicas', '2']);
  const m = await waitFor(r, /ready: 3 shards × 2 copies, REST (http:\/\/127\.0\.0\.1:(\d+)), RESP redis:\/\/127\.0\.0\.1:(\d+)\n/);
  const base = m[1]!;
  for (let i = 0; i < 20; i++) t.equal((await fetch(`${base}/set?key=k${i}&value=v${i}`, { method: 'POST' })).status, 201);
  const view = (await (await fetch(`${base}/cluster`)).json()) as { shards: { keys: number }[] };
  t.equal(
    view.shards.reduce((a, s) => a + s.keys, 0),
    40,
    'two copies of each key',
  );
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
});

t.test('start --maxclients and --proto-max-bulk-len reach the RESP port', async (t) => {
  const r = run(['start', '--http-port', '0', '--port', '0', '--shards', '1', '--maxclients', '1', '--proto-max-bulk-len', '1kb']);
  const m = await waitFor(r, /RESP redis:\/\/127\.0\.0\.1:(\d+)\n/);
  const port = Number(m[1]);
  const talk = (payload: string): Promise<string> =>
    new Promise((resolve) => {
      let got = '';
      const sock = connect(port, '127.0.0.1', () => sock.write(payload));
      sock.on('data', (d: Buffer) => {
        got += d.toString();
      });
      sock.on('close', () => resolve(got));
      sock.on('error', () => undefined);
    });
  const first = connect(port, '127.0.0.1');
  await once(first, 'connect');
  // The first client holds the only slot; the next one is turned away with Redis's error.
  t.equal(await talk('PING\r\n'), '-ERR max number of clients reached\r\n');
  first.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2048\r\n${'x'.repeat(2048)}\r\n`);
  const [reply] = (await once(first, 'data')) as [Buffer];
  t.equal(reply.toString(), '-ERR Protocol error: invalid bulk length\r\n', 'a bulk over 1kb');
  await once(first, 'close');
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
});

t.test('a port in use: one line on stderr, exit 1', async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const r = run(['start', '--http-port', String(port), '--port', '0']);
  t.equal(await r.exit, 1);
  const lines = r.err().trim().split('\n');
  t.equal(lines.length, 1, `one line: ${r.err()}`);
  t.match(lines[0], `127.0.0.1:${port} is already in use`);
  t.notMatch(r.err(), /\bat .*\.js:\d+/, 'no stack trace');
});

t.test('usage errors exit 2; --help exits 0', async (t) => {
  for (const args of [
    ['start', '--shards', '0'],
    ['start', '--bogus'],
    ['start', '--maxmemory', 'lots'],
    ['start', '--maxmemory-policy', 'lfu'],
    ['start', '--proto-max-bulk-len', 'huge'],
    ['start', '--log-level', 'loud'],
  ]) {
    const r = run(args);
    t.equal(await r.exit, 2, args.join(' '));
    t.match(r.err(), /Error/, 'says what is wrong');
  }
  const help = run(['start', '--help']);
  t.equal(await help.exit, 0);
  t.match(help.out(), /--http-port/);
  t.match(help.out(), /--shards/);
  const top = run(['--help']);
  t.equal(await top.exit, 0);
  t.match(top.out(), /start\s+Start a local shardcache cluster/);
  t.match(top.out(), /cluster\s+Inspect and change the shards/);
});
