// bench:keys — whole-keyspace commands on a big embedded cluster: fills it with N keys (one of
// them 40 × 'a', the worst case of a backtracking glob), then times KEYS *, KEYS with a
// pathological pattern, a full SCAN MATCH with a big COUNT, DBSIZE and FLUSHALL, reporting what
// each returned, whether any shard crashed (the watchdog kills a shard that cannot answer its
// ping) and the main thread's worst event-loop delay. Crashes while filling are counted apart:
// a shard whose index Map grows past 2^20, 2^21, ... keys stalls once for its rehash, which on a
// busy machine can outlast --watchdog-timeout (nothing to do with walks).
//
//   npm run bench:keys -- [--keys 10000000] [--shards 3] [--replicas 1] [--value-size 8]
//                         [--watchdog-timeout 1500] [--scan-count 100000] [--timeout 1800] [--json]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createCluster } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000000' },
    shards: { type: 'string', default: '3' },
    replicas: { type: 'string', default: '1' },
    'value-size': { type: 'string', default: '8' },
    'watchdog-timeout': { type: 'string', default: '1500' },
    'scan-count': { type: 'string', default: '100000' },
    timeout: { type: 'string', default: '1800' },
    json: { type: 'boolean', default: false },
  },
});

const keyCount = Number(args.keys);
const shards = Number(args.shards);
const replicas = Number(args.replicas);
const valueSize = Number(args['value-size']);
const watchdogTimeoutMs = Number(args['watchdog-timeout']);
const scanCount = Number(args['scan-count']);
const timeoutMs = Number(args.timeout) * 1000;
for (const [name, n] of [
  ['keys', keyCount],
  ['shards', shards],
  ['replicas', replicas],
  ['value-size', valueSize],
  ['watchdog-timeout', watchdogTimeoutMs],
  ['scan-count', scanCount],
  ['timeout', timeoutMs],
] as const) {
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
}

const log = (line: string): void => {
  if (args.json) process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

// Bounded: whatever happens, the process ends.
setTimeout(() => {
  process.stderr.write(`bench:keys: gave up after --timeout ${args.timeout} s\n`);
  process.exit(2);
}, timeoutMs).unref();

const PATHOLOGICAL = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
const cluster = await createCluster({ shards, replicas, watchdogTimeoutMs });
const crashes: string[] = [];
let phase = 'fill';
cluster.on('crash', (e) => crashes.push(`${phase}: ${e.name}: ${e.reason} (${e.keysLost} keys lost)`));
const loop = monitorEventLoopDelay({ resolution: 10 });

const value = 'v'.repeat(valueSize);
const t0 = performance.now();
// The fill: MSETs of 1000 keys, 8 at a time.
const CHUNK = 1000;
let next = 0;
const lane = async (): Promise<void> => {
  while (next < keyCount) {
    const from = next;
    next = Math.min(keyCount, next + CHUNK);
    const pairs: [string, string][] = [];
    for (let i = from; i < next; i++) pairs.push([i === 0 ? 'a'.repeat(40) : `key:${i}`, value]);
    await cluster.mset(pairs).catch(() => {
      failedFills++;
    });
  }
};
let failedFills = 0;
await Promise.all(Array.from({ length: 8 }, lane));
const fillS = (performance.now() - t0) / 1000;
const fillCrashes = crashes.length;
log(
  `filled ${keyCount.toLocaleString('en')} keys over ${shards} shards (replicas ${replicas}) in ${fillS.toFixed(1)} s` +
    (fillCrashes === 0 ? '' : ` — ${fillCrashes} crashes while filling, ${failedFills} MSETs failed: ${crashes.join('; ')}`),
);
phase = 'commands';

interface Row {
  command: string;
  seconds: number;
  returned: number;
  /** The main thread's worst event-loop delay during the command, ms. */
  loop_max_ms: number;
  crashes: number;
}
const rows: Row[] = [];
async function time(command: string, fn: () => Promise<number>): Promise<void> {
  loop.reset();
  loop.enable();
  const before = crashes.length;
  const start = performance.now();
  const returned = await fn().catch((e: Error) => {
    log(`${command}: ${e.message}`);
    return -1;
  });
  const seconds = (performance.now() - start) / 1000;
  loop.disable();
  const row = {
    command,
    seconds: Number(seconds.toFixed(2)),
    returned,
    loop_max_ms: Math.round(loop.max / 1e6),
    crashes: crashes.length - before,
  };
  rows.push(row);
  log(
    `${command.padEnd(52)} ${row.seconds.toFixed(2).padStart(7)} s  returned ${String(returned).padStart(10)}  main loop max ${row.loop_max_ms} ms  crashes ${row.crashes}`,
  );
}

await time('KEYS *', async () => (await cluster.keys('*')).length);
await time(`KEYS ${PATHOLOGICAL}`, async () => (await cluster.keys(PATHOLOGICAL)).length);
await time('KEYS *a*a*a*a*a*a*a*a*a*a*a*a*a (the long key only)', async () => (await cluster.keys('*a*a*a*a*a*a*a*a*a*a*a*a*a')).length);
await time(`SCAN 0.. MATCH ${PATHOLOGICAL} COUNT ${scanCount}`, async () => {
  let cursor = '0';
  let found = 0;
  do {
    const [nextCursor, keys] = await cluster.scan(cursor, { match: PATHOLOGICAL, count: scanCount });
    found += keys.length;
    cursor = nextCursor;
  } while (cursor !== '0');
  return found;
});
await time('DBSIZE', () => cluster.dbsize());
await time('FLUSHALL', async () => {
  await cluster.flushall();
  return cluster.dbsize();
});
await cluster.close();

const walkCrashes = crashes.slice(fillCrashes);
const summary = {
  keys: keyCount,
  shards,
  replicas,
  watchdog_timeout_ms: watchdogTimeoutMs,
  fill_seconds: Number(fillS.toFixed(1)),
  fill_crashes: fillCrashes,
  rows,
  crashes,
};
if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else log(walkCrashes.length === 0 ? 'no shard crashed during the commands' : `CRASHES during the commands: ${walkCrashes.join('; ')}`);
if (walkCrashes.length > 0) process.exitCode = 1;
