// bench:resp — `shardcache start`'s Redis-protocol server against a real redis-server, both driven
// by redis-benchmark over loopback: SET, GET, INCR and MSET (10 keys), 100-byte values, 100,000
// random keys, 50 connections. Two passes: `-P 16` (pipelined: the server is the limit) and `-P 1`
// (one request in flight per connection: the client is the limit, so the figure that tells the
// servers apart is each server process's CPU time per request, read from /proc/PID/stat). The two
// servers alternate run by run (A B A B ...) for --pairs pairs and the median of each is reported,
// because this machine is noisy.
//
//   npm run bench:resp -- [--requests 1000000] [--pairs 3] [--p1 N] [--tests set,get,incr,mset]
//                         [--warmup 200000] [--run-timeout 300] [--json]
//
// --p1 N: requests per run of the -P 1 pass (default: the smaller of 100,000 and --requests; 0
// skips the pass). --warmup N: one unmeasured -P 16 run of N requests per test and server first
// (0 skips it). Without redis-benchmark or redis-server it says so and exits 0 (`{"results":[]}`
// under --json).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { median } from '../src/bench/compare.js';
import { type Server, startRedis, startShardcache, stop } from './servers.js';
import { reportLines, requirePositiveInts } from './common.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    pairs: { type: 'string', default: '3' },
    p1: { type: 'string' },
    tests: { type: 'string', default: 'set,get,incr,mset' },
    'run-timeout': { type: 'string', default: '300' },
    warmup: { type: 'string', default: '200000' },
    json: { type: 'boolean', default: false },
  },
});

const requests = Number(args.requests);
const pairs = Number(args.pairs);
const p1Requests = args.p1 === undefined ? Math.min(100_000, requests) : Number(args.p1);
const runTimeoutMs = Number(args['run-timeout']) * 1000;
const warmup = Number(args.warmup);
const tests = args.tests.split(',');
requirePositiveInts({ requests, pairs });
if (!Number.isSafeInteger(p1Requests) || p1Requests < 0) throw new Error('--p1 must be an integer ≥ 0');
if (!Number.isSafeInteger(warmup) || warmup < 0) throw new Error('--warmup must be an integer ≥ 0');
if (!(runTimeoutMs > 0)) throw new Error('--run-timeout must be a positive number of seconds');
for (const t of tests) if (!['set', 'get', 'incr', 'mset'].includes(t)) throw new Error(`--tests: unknown test "${t}"`);

const log = reportLines(args.json);

interface Result {
  test: string;
  pipeline: number;
  /** Median ops/s. */
  shardcache: number;
  redis: number;
  /** shardcache / redis, of the medians. */
  ratio: number;
  /** Median server CPU time (user + system) per request, µs. */
  shardcache_cpu_us: number;
  redis_cpu_us: number;
}

const missing = ['redis-benchmark', 'redis-server'].filter((bin) => {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return r.error !== undefined || r.status !== 0;
});
if (missing.length > 0) {
  log(`bench:resp: ${missing.join(' and ')} not found on the PATH — nothing to compare (apt-get install redis-tools redis-server)`);
  if (args.json) process.stdout.write(`${JSON.stringify({ results: [] })}\n`);
  process.exit(0);
}

// ---- servers ----------------------------------------------------------------------------------
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a process (all its threads), in µs. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces: state is
  // field 3, utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1e6) / CLK_TCK;
}

/** A started server and which of the two it is. */
type Named = Server & { name: 'shardcache' | 'redis' };

// ---- one redis-benchmark run ------------------------------------------------------------------
interface Run {
  opsPerSec: number;
  cpuUsPerRequest: number;
}

async function bench(s: Named, test: string, pipeline: number, n: number): Promise<Run> {
  const cpu0 = cpuMicros(s.proc.pid!);
  const argv = ['-h', '127.0.0.1', '-p', String(s.port), '-t', test, '-n', String(n), '-r', '100000', '-d', '100', '-c', '50'];
  const child = spawn('redis-benchmark', [...argv, '-P', String(pipeline), '--csv'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Bounded: redis-benchmark waits forever on a server that stopped answering.
    timeout: runTimeoutMs,
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  const cpu1 = cpuMicros(s.proc.pid!);
  // "test","rps",...  then e.g.  "MSET (10 keys)","25477.71",...
  const row = out
    .split('\n')
    .map((l) => l.split(',').map((f) => f.replace(/^"|"$/g, '')))
    .find((f) => f[0] !== 'test' && f[0]?.toLowerCase().startsWith(test));
  if (code !== 0 || row === undefined) {
    const why = signal !== null ? `killed by ${signal} (--run-timeout ${args['run-timeout']} s)` : `exit ${code}`;
    throw new Error(`redis-benchmark -t ${test} -P ${pipeline} against ${s.name}: ${why}\n${err.trim()}\n${out.trim()}`);
  }
  return { opsPerSec: Number(row[1]), cpuUsPerRequest: (cpu1 - cpu0) / n };
}

// ---- the runs ---------------------------------------------------------------------------------

const passes: [pipeline: number, n: number][] = [[16, requests]];
if (p1Requests > 0) passes.push([1, p1Requests]);
log(
  `bench:resp — shardcache (3 shards) vs redis-server, redis-benchmark -c 50 -r 100000 -d 100: ` +
    passes.map(([p, n]) => `-P ${p} × ${n.toLocaleString('en')} requests`).join(', ') +
    `; ${pairs} pair${pairs === 1 ? '' : 's'} of runs`,
);

const servers: Named[] = [];
let exitCode = 0;
const runs = new Map<string, { shardcache: Run[]; redis: Run[] }>();
try {
  servers.push({ name: 'shardcache', ...(await startShardcache()) }, { name: 'redis', ...(await startRedis()) });
  // One unmeasured run of each test against each server first: both start with the keyspace
  // filled, and Node's JIT has compiled the hot path (Redis has nothing to warm).
  if (warmup > 0) {
    for (const test of tests) for (const s of servers) await bench(s, test, 16, warmup);
    log(`  warm-up: ${tests.join(', ')} × ${warmup.toLocaleString('en')} requests against each server (not measured)`);
  }
  for (let pair = 1; pair <= pairs; pair++) {
    for (const [pipeline, n] of passes) {
      for (const test of tests) {
        const key = `${test} ${pipeline}`;
        if (!runs.has(key)) runs.set(key, { shardcache: [], redis: [] });
        for (const s of servers) {
          const r = await bench(s, test, pipeline, n);
          runs.get(key)![s.name].push(r);
          log(
            `  pair ${pair}  ${test.padEnd(4)} -P ${String(pipeline).padEnd(2)} ${s.name.padEnd(10)} ` +
              `${Math.round(r.opsPerSec).toLocaleString('en').padStart(10)} ops/s  ${r.cpuUsPerRequest.toFixed(2)} µs CPU/request`,
          );
        }
      }
    }
  }
} catch (err) {
  process.stderr.write(`bench:resp: ${err instanceof Error ? err.message : String(err)}\n`);
  exitCode = 1;
} finally {
  await Promise.all(servers.map((s) => stop(s)));
}
if (exitCode !== 0) process.exit(exitCode);

// ---- report -----------------------------------------------------------------------------------
const round2 = (x: number): number => Math.round(x * 100) / 100;
const results: Result[] = [];
for (const [pipeline] of passes) {
  for (const test of tests) {
    const r = runs.get(`${test} ${pipeline}`)!;
    const sc = median(r.shardcache.map((x) => x.opsPerSec));
    const rd = median(r.redis.map((x) => x.opsPerSec));
    results.push({
      test,
      pipeline,
      shardcache: Math.round(sc),
      redis: Math.round(rd),
      ratio: rd > 0 ? round2(sc / rd) : 0,
      shardcache_cpu_us: round2(median(r.shardcache.map((x) => x.cpuUsPerRequest))),
      redis_cpu_us: round2(median(r.redis.map((x) => x.cpuUsPerRequest))),
    });
  }
}

const pad = (s: string | number, w: number): string => String(s).padStart(w);
const n = (x: number): string => x.toLocaleString('en');
log('');
log(
  `${'test'.padEnd(5)} ${pad('P', 3)} ${pad('shardcache/s', 13)} ${pad('redis/s', 11)} ${pad('ratio', 6)} ${pad('µs/req sc', 10)} ${pad('µs/req redis', 13)}`,
);
for (const r of results) {
  log(
    `${r.test.padEnd(5)} ${pad(r.pipeline, 3)} ${pad(n(r.shardcache), 13)} ${pad(n(r.redis), 11)} ${pad(r.ratio.toFixed(2), 6)} ` +
      `${pad(r.shardcache_cpu_us.toFixed(2), 10)} ${pad(r.redis_cpu_us.toFixed(2), 13)}`,
  );
}
log('µs/req: server process CPU time (user + system, all threads) per request, median of the runs.');
if (args.json) process.stdout.write(`${JSON.stringify({ results })}\n`);
