// `shardcache start` stopped by a signal finishes what it read: every pipelined RESP command
// already received gets its reply before the connection closes, and the process exits 0. Also the
// start flags of the RESP hardening: --host warnings on the ready line, --client-output-buffer-limit.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { encodeCommand } from '../src/resp/command-encoder.js';
import { cli, run, waitFor } from './helpers/cli.js';
import type { Teardown } from './helpers/cluster.js';

/** A `shardcache start` (a 30 s --shutdown-timeout), killed with the test, and a socket to its RESP port. */
async function startConnected(t: Teardown): Promise<{ r: ReturnType<typeof run>; sock: Socket }> {
  const r = run(['start', '--http-port', '0', '--port', '0', '--shards', '2', '--shutdown-timeout', '30']);
  t.teardown(() => r.child.kill('SIGKILL'));
  const m = await waitFor(r, /RESP redis:\/\/127\.0\.0\.1:(\d+)\n/);
  const sock = connect(Number(m[1]), '127.0.0.1');
  await once(sock, 'connect');
  return { r, sock };
}

t.test('SIGTERM as the first reply arrives: all 2,000 pipelined commands are answered, then exit 0', async (t) => {
  const { r, sock } = await startConnected(t);
  const n = 2000;
  // INCR: each reply says how many ran, so a command run twice or skipped shows.
  sock.write(Buffer.concat(Array<Buffer>(n).fill(encodeCommand(['INCR', 'c']))));
  let got = '';
  let signalled = false;
  sock.on('data', (d: Buffer) => {
    got += d.toString('latin1');
    if (!signalled) {
      signalled = true;
      r.child.kill('SIGTERM');
    }
  });
  sock.on('error', () => undefined);
  await once(sock, 'close');
  const want = Array.from({ length: n }, (_, i) => `:${i + 1}\r\n`).join('');
  t.equal(got.length, want.length, 'as many reply bytes as 2,000 replies');
  t.ok(got === want, 'every command answered once, in order, before the close');
  t.equal(await r.exit, 0, 'exit code 0');
  t.match(r.out(), 'SIGTERM received, shutting down');
});

t.test('start --host: the ready line warns when bound beyond loopback; bad --client-output-buffer-limit is a usage error', async (t) => {
  const exposed = run(['start', '--http-port', '0', '--port', '0', '--shards', '1', '--host', '0.0.0.0']);
  t.teardown(() => exposed.child.kill('SIGKILL'));
  const line = await waitFor(exposed, /ready: .*\n/);
  t.match(line[0], /WARNING: bound to 0\.0\.0\.0 without --requirepass: protected mode refuses clients that are not on loopback/);
  exposed.child.kill('SIGTERM');
  t.equal(await exposed.exit, 0);
  t.match(exposed.err(), /"level":40.*"event":"exposed"/, 'and a warn log line');
  const open = run(['start', '--http-port', '0', '--port', '0', '--shards', '1', '--host', '0.0.0.0', '--protected-mode', 'no']);
  t.teardown(() => open.child.kill('SIGKILL'));
  t.match((await waitFor(open, /ready: .*\n/))[0], /ANYONE who can reach it/);
  open.child.kill('SIGTERM');
  t.equal(await open.exit, 0);
  const bad = await cli('start', '--client-output-buffer-limit', 'normal 1gb');
  t.equal(bad.code, 2);
  t.match(bad.err, /--client-output-buffer-limit: expected groups of 4 words/);
});

t.test('SIGTERM while a REST request is in flight: it is answered, then the process exits 0', async (t) => {
  const r = run(['start', '--http-port', '0', '--port', '0', '--shards', '2']);
  t.teardown(() => r.child.kill('SIGKILL'));
  const [, base] = await waitFor(r, /REST (http:\/\/127\.0\.0\.1:\d+),/);
  // Adding a shard answers once its keys have moved: in flight from the new shard's join on.
  const joined = new Promise<void>((resolve) => {
    const check = (): void => {
      if (/"event":"join"/.test(r.err())) {
        r.child.stderr!.off('data', check);
        resolve();
      }
    };
    r.child.stderr!.on('data', check);
  });
  const add = fetch(`${base}/cluster/shards`, { method: 'POST' });
  await joined;
  r.child.kill('SIGTERM');
  const res = await add;
  t.equal(res.status, 201, 'the request in flight is answered');
  t.match(await res.json(), { shard: { name: 'node-3' } });
  t.equal(await r.exit, 0);
});

t.test('SIGTERM while a client keeps sending: its replies arrive whole, with no reset', async (t) => {
  const { r, sock } = await startConnected(t);
  const value = 'v'.repeat(1024 * 1024);
  sock.write(encodeCommand(['SET', 'big', value]));
  await once(sock, 'data');
  // 24 MiB of replies: many are still in the kernel's queues when the server ends the connection.
  const n = 24;
  sock.write(Buffer.concat(Array<Buffer>(n).fill(encodeCommand(['GET', 'big']))));
  let got = 0;
  let error: string | null = null;
  let signalled = false;
  const more = Buffer.from('PING\r\n'.repeat(64 * 1024));
  sock.on('data', (d: Buffer) => {
    got += d.length;
    if (signalled) return;
    signalled = true;
    r.child.kill('SIGTERM');
    // 4 MB more, sent after the signal: what the server reads of it before it stops is
    // answered; the rest must not make the kernel reset the connection over unread input.
    for (let i = 0; i < 10; i++) sock.write(more);
  });
  sock.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  await once(sock, 'close');
  t.equal(error, null, 'closed cleanly, not reset');
  const reply = `$${value.length}\r\n${value}\r\n`.length;
  t.ok(got >= n * reply, `every GET answered whole (${got} bytes)`);
  t.equal((got - n * reply) % '+PONG\r\n'.length, 0, 'then whole PONGs only');
  t.equal(await r.exit, 0);
});
