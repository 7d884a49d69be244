// `shardcache bench` against targets that fail or stall, as a user runs it: a server that hangs
// up or goes silent mid-run (one line, exit 1), one that stalls for 300 ms (the open loop shows it,
// a closed loop hides it), exact op counts, flags that do not apply, maxclients, --hdr-out.
import { mkdtempSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { OpFigures } from '../src/bench/runner.js';
import { clis, oneLineError } from './helpers/cli.js';
import { startCluster } from './helpers/cluster.js';
import { commandServer, serve } from './helpers/resp.js';

/**
 * A RESP server of our own making for the failure cases: answers PING with PONG and any other
 * command with OK, and lets `behave` decide per command what happens (answer, hold, hang up).
 */
async function fakeServer(t: Test, behave: (n: number, socket: Socket) => 'answer' | 'silent' | 'close'): Promise<number> {
  let n = 0;
  return commandServer(t, (args, socket) => {
    if (args[0] === 'PING') {
      socket.write('+PONG\r\n');
      return;
    }
    const what = behave(n++, socket);
    if (what === 'answer') socket.write('+OK\r\n');
    else if (what === 'close') socket.destroy();
  });
}

t.test('a target that hangs up or goes silent mid-run ends the bench: one line, exit 1', async (t) => {
  const hangsUp = await fakeServer(t, (n) => (n < 300 ? 'answer' : 'close'));
  const silent = await fakeServer(t, (n) => (n < 300 ? 'answer' : 'silent'));
  const writes = (port: number, ...more: string[]): string[] => [
    'bench',
    '--target',
    `resp://127.0.0.1:${port}`,
    '--no-preload',
    '--mix',
    'set=1',
    '--ops',
    '100000',
    '--connections',
    '2',
    '--threads',
    '1',
    ...more,
  ];
  const [closed, quiet] = await clis([writes(hangsUp), writes(silent, '--timeout', '1')]);
  oneLineError(t, closed!, new RegExp(`resp://127\\.0\\.0\\.1:${hangsUp}: (connection closed|read ECONNRESET)`), 'hung up');
  oneLineError(t, quiet!, new RegExp(`resp://127\\.0\\.0\\.1:${silent}: no reply for 1 s`), 'silent');
});

t.test('open loop: a stalled server shows in the latencies (no coordinated omission); a closed loop hides it', async (t) => {
  // Every reply waits until 300 ms after the first command arrived, then all flow freely.
  const stalled = (): Promise<number> => {
    let releaseAt = 0;
    return fakeServer(t, (n, socket) => {
      if (n === 0) releaseAt = performance.now() + 300;
      const wait = releaseAt - performance.now();
      if (wait <= 0) return 'answer';
      setTimeout(() => socket.write('+OK\r\n'), wait);
      return 'silent';
    });
  };
  const [openPort, closedPort] = [await stalled(), await stalled()];
  const [open, closed] = await clis([
    [
      'bench',
      '--target',
      `resp://127.0.0.1:${openPort}`,
      '--no-preload',
      '--mix',
      'set=1',
      '--rate',
      '500',
      '--duration',
      '1',
      '--connections',
      '1',
      '--json',
    ],
    [
      'bench',
      '--target',
      `resp://127.0.0.1:${closedPort}`,
      '--no-preload',
      '--mix',
      'set=1',
      '--ops',
      '500',
      '--connections',
      '1',
      '--json',
    ],
  ]);
  t.equal(open!.code, 0, open!.err);
  t.equal(closed!.code, 0, closed!.err);
  const o = JSON.parse(open!.out) as { perOp: OpFigures[]; ops: number };
  const c = JSON.parse(closed!.out) as { perOp: OpFigures[]; ops: number };
  // Open loop: the ~150 ops due during the stall each wait for its end (up to 300 ms) — over 10% of 500.
  t.ok(o.perOp[0]!.p90 >= 50_000, `open loop p90 ${o.perOp[0]!.p90} µs shows the stall`);
  // Closed loop, one op in flight: one op waited, the next 499 did not.
  t.ok(c.perOp[0]!.max >= 250_000, `closed loop max ${c.perOp[0]!.max} µs`);
  t.ok(c.perOp[0]!.p90 < 50_000, `closed loop p90 ${c.perOp[0]!.p90} µs hides it`);
});

t.test('op counts are exact; flags that do not apply are refused', async (t) => {
  const cluster = await startCluster(t, { shards: 1 });
  const resp = await serve(t, cluster, { maxClients: 1 });
  const other = await startCluster(t, { shards: 1 });
  const resp2 = await serve(t, other);
  const dir = mkdtempSync(join(tmpdir(), 'shardcache-bench-'));
  const [few, fewThreads, full, rateAndPipeline, threadsEmbedded, pairsAlone, badHdr, compareHdr] = await clis([
    ['bench', '--ops', '10', '--pipeline', '8', '--connections', '4', '--keys', '10', '--json'],
    ['bench', '--target', `resp://127.0.0.1:${resp2}`, '--ops', '3', '--threads', '4', '--connections', '4', '--keys', '10', '--json'],
    ['bench', '--target', `resp://127.0.0.1:${resp}`, '--ops', '10', '--connections', '2', '--threads', '1'],
    ['bench', '--rate', '100', '--pipeline', '4'],
    ['bench', '--threads', '2'],
    ['bench', '--pairs', '2'],
    ['bench', '--ops', '10', '--hdr-out', join(dir, 'no', 'such', 'dir', 'x.hgrm')],
    [
      'bench',
      '--compare',
      `resp://127.0.0.1:${resp2}`,
      '--pairs',
      '1',
      '--ops',
      '100',
      '--keys',
      '10',
      '--connections',
      '1',
      '--hdr-out',
      join(dir, 'c.hgrm'),
    ],
  ]);
  t.match(JSON.parse(few!.out), { ops: 10, errors: 0 }, 'not a pipeline more');
  t.match(JSON.parse(fewThreads!.out), { ops: 3, cpu: { threads: 3 } }, 'no thread without an op');
  oneLineError(t, full!, /ERR max number of clients reached/, 'a server turning a connection away says why');
  for (const [r, re] of [
    [rateAndPipeline, /--pipeline=4 cannot also be provided when using --rate|cannot also be provided/],
    [threadsEmbedded, /--threads applies to network targets/],
    [pairsAlone, /--compare/],
  ] as const) {
    t.equal(r!.code, 2, r!.err);
    t.match(r!.err, re);
  }
  oneLineError(t, badHdr!, /--hdr-out: cannot write .*x\.hgrm: ENOENT/, 'an unwritable --hdr-out, before the run');
  t.equal(compareHdr!.code, 0, compareHdr!.err);
  for (const side of ['a', 'b'])
    t.match(readFileSync(join(dir, `c-${side}.hgrm`), 'utf8'), /Total count\s+=\s+100\b/, `--hdr-out with --compare: c-${side}.hgrm`);
});
