// bench:replication — what replication costs a leader, and how far its replicas trail it.
//  1. Write throughput of a shardcache leader with 0, 1 and 2 shardcache replicas attached
//     (`shardcache bench --mix set=1` against the leader, pipelined), the counts taken in turn
//     (0 1 2 0 1 2 ...) for --pairs rounds; medians, and ratios to 0 replicas.
//  2. Replication lag at a fixed write rate with one replica: each write is followed by WAIT 1,
//     and the time from the write's reply to the replica's acknowledgement is recorded (HDR;
//     p50, p99, max). The same for a redis-server leader and replicas, for reference, when
//     redis-server is installed.
//
//   npm run bench:replication -- [--duration 5] [--pairs 3] [--rate 2000] [--lag-seconds 5]
//                                [--keys 100000] [--warmup 1] [--json]
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { RespClient } from '../src/client/resp.js';
import { median } from '../src/bench/compare.js';
import { type Server, startRedis, startShardcache, stop } from './servers.js';
import { reportLines, requirePositiveInts } from './common.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    pairs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '2000' },
    'lag-seconds': { type: 'string', default: '5' },
    keys: { type: 'string', default: '100000' },
    warmup: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const duration = Number(args.duration);
const pairs = Number(args.pairs);
const rate = Number(args.rate);
const lagSeconds = Number(args['lag-seconds']);
const keys = Number(args.keys);
const warmup = Number(args.warmup);
if (!Number.isSafeInteger(warmup) || warmup < 0) throw new Error('--warmup must be an integer ≥ 0');
requirePositiveInts({ duration, pairs, rate, 'lag-seconds': lagSeconds, keys });

const log = reportLines(args.json);
const run = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** Attaches the first `n` replicas to the leader and detaches the others; resolves when the leader sees exactly n online and acknowledged. */
async function attach(leader: RespClient, leaderPort: number, replicas: RespClient[], n: number): Promise<void> {
  for (let i = 0; i < replicas.length; i++) {
    await (i < n ? replicas[i]!.call('REPLICAOF', '127.0.0.1', String(leaderPort)) : replicas[i]!.call('REPLICAOF', 'NO', 'ONE'));
  }
  const deadline = Date.now() + 15_000;
  for (;;) {
    const info = String(await leader.call('INFO', 'replication'));
    const online = (info.match(/state=online/g) ?? []).length;
    const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1]);
    if (online === n && connected === n && (n === 0 || (await leader.call('WAIT', String(n), '1000')) === n)) return;
    if (Date.now() > deadline) throw new Error(`${n} replicas did not attach within 120 s: ${info}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `shardcache bench` writing to the leader: ops/s. */
async function writeThroughput(port: number): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      run,
      'bench',
      '--target',
      `resp://127.0.0.1:${port}`,
      '--mix',
      'set=1',
      '--distribution',
      'uniform',
      '--keys',
      String(keys),
      '--no-preload',
      '--pipeline',
      '16',
      '--connections',
      '16',
      '--threads',
      '1',
      '--warmup',
      String(warmup),
      '--duration',
      String(duration),
      '--json',
    ],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  const r = JSON.parse(stdout) as { opsPerSec: number; errors: number };
  if (r.errors > 0) throw new Error(`the write benchmark had ${r.errors} errors`);
  return r.opsPerSec;
}

/** Writes at `rate`/s for lagSeconds, each followed by WAIT 1: µs from the write's reply to the replica's acknowledgement. */
async function lag(port: number): Promise<{ p50: number; p99: number; max: number; samples: number }> {
  const c = await RespClient.connect('127.0.0.1', port);
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
  const interval = 1000 / rate;
  const start = performance.now();
  const total = rate * lagSeconds;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(
      (async () => {
        await c.call('SET', `lag:${i % 1000}`, String(i));
        const t1 = performance.now();
        const acked = await c.call('WAIT', '1', '5000');
        if (acked === 1) h.recordValue(Math.max(1, Math.round((performance.now() - t1) * 1000)));
      })(),
    );
  }
  await Promise.all(inFlight);
  await c.close();
  const max = h.maxValue;
  return { p50: Math.min(h.getValueAtPercentile(50), max), p99: Math.min(h.getValueAtPercentile(99), max), max, samples: h.totalCount };
}

interface Side {
  throughput: { replicas: number; opsPerSec: number; ratio: number; runs: number[] }[];
  lag: { p50: number; p99: number; max: number; samples: number };
}

async function measure(name: string, start: () => Promise<Server>): Promise<Side> {
  const servers = [await start(), await start(), await start()];
  try {
    const [leaderServer, ...replicaServers] = servers as [Server, Server, Server];
    const leader = await RespClient.connect('127.0.0.1', leaderServer.port, 0);
    const replicas = await Promise.all(replicaServers.map((s) => RespClient.connect('127.0.0.1', s.port, 0)));
    const runs: number[][] = [[], [], []];
    for (let p = 1; p <= pairs; p++) {
      for (const n of [0, 1, 2]) {
        await attach(leader, leaderServer.port, replicas, n);
        const ops = await writeThroughput(leaderServer.port);
        runs[n]!.push(ops);
        log(`${name}: round ${p}, ${n} replica${n === 1 ? '' : 's'}: ${ops.toLocaleString('en')} writes/s`);
      }
    }
    await attach(leader, leaderServer.port, replicas, 1);
    const l = await lag(leaderServer.port);
    log(`${name}: lag at ${rate} writes/s: p50 ${l.p50} µs, p99 ${l.p99} µs, max ${l.max} µs (${l.samples} samples)`);
    await leader.close();
    for (const r of replicas) await r.close();
    const base = Math.round(median(runs[0]!));
    return {
      throughput: runs.map((r, n) => ({
        replicas: n,
        opsPerSec: Math.round(median(r)),
        ratio: Math.round((Math.round(median(r)) / base) * 1000) / 1000,
        runs: r,
      })),
      lag: l,
    };
  } finally {
    for (const s of servers) await stop(s, 'SIGKILL');
  }
}

const shardcache = await measure('shardcache', () => startShardcache(['--log-level', 'warn'], 'ignore'));
const redis = hasRedis ? await measure('redis', () => startRedis(['--repl-diskless-sync-delay', '0'])) : null;
if (!hasRedis) log('redis-server not found: no reference figures (apt-get install redis-server)');

log('');
log(`writes/s (median of ${pairs}; SET, 100-byte values, 16 connections × pipeline 16), ratio to 0 replicas`);
log(`${'replicas'.padEnd(10)}${'shardcache'.padStart(14)}${'ratio'.padStart(8)}${'redis'.padStart(14)}${'ratio'.padStart(8)}`);
for (const n of [0, 1, 2]) {
  const a = shardcache.throughput[n]!;
  const b = redis?.throughput[n];
  log(
    `${String(n).padEnd(10)}${a.opsPerSec.toLocaleString('en').padStart(14)}${String(a.ratio).padStart(8)}${(b?.opsPerSec.toLocaleString('en') ?? '-').padStart(14)}${String(b?.ratio ?? '-').padStart(8)}`,
  );
}
log(`replication lag at ${rate} writes/s, one replica (write reply → replica acknowledgement, WAIT 1):`);
for (const [name, s] of [
  ['shardcache', shardcache],
  ['redis', redis],
] as const) {
  if (s !== null) log(`  ${name.padEnd(11)} p50 ${s.lag.p50} µs   p99 ${s.lag.p99} µs   max ${s.lag.max} µs`);
}
if (args.json) process.stdout.write(`${JSON.stringify({ rate, shardcache, redis })}\n`);
