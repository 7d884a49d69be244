// bench:keys — whole-keyspace commands on a big embedded cluster: fills it with N keys (one of
// them 40 × 'a', the worst case of a backtracking glob), then times KEYS *, KEYS with a
// pathological pattern, a full SCAN MATCH with a big COUNT, DBSIZE and FLUSHALL, reporting what
// each returned, whether any shard crashed (the watchdog kills a shard that cannot answer its
// ping) and the main thread's worst event-loop delay. Crashes while filling are counted apart
// (a stall there, a GC pause say, has nothing to do with walks). Then one shard
// worker, driven directly over its port with keys ÷ shards keys, is pinged every 10 ms during
// KEYS * and the pathological KEYS: the worst ping round trip is what the watchdog would see.
//
//   npm run bench:keys -- [--keys 10000000] [--shards 3] [--replicas 1] [--value-size 8]
//                         [--watchdog-timeout 1500] [--scan-count 100000] [--timeout 1800] [--json]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import { createCluster } from '../src/index.js';
import { type FromShard, Op, type ShardInit, type ToShard } from '../src/protocol.js';
import { giveUpAfter, reportLines, requirePositiveInts } from './common.js';

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
requirePositiveInts({
  keys: keyCount,
  shards,
  replicas,
  'value-size': valueSize,
  'watchdog-timeout': watchdogTimeoutMs,
  'scan-count': scanCount,
  timeout: timeoutMs,
});

const log = reportLines(args.json);

// Bounded: whatever happens, the process ends.
giveUpAfter('bench:keys', timeoutMs / 1000);

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

/** The worst ping round trip (ms) of one shard worker while it runs `pattern` over `n` keys, and what KEYS returned. */
async function probePings(n: number, pattern: string): Promise<{ ms: number; keys: number; pings: number; seconds: number }> {
  const { port1, port2 } = new MessageChannel();
  const init: ShardInit = {
    shardId: 1,
    name: 'probe',
    epoch: 1,
    maxBytes: 0,
    policy: 'noeviction',
    channelName: 'bench-keys-probe',
    faults: false,
  };
  const worker = new Worker(new URL('../workers/shard.js', import.meta.url), {
    workerData: { ...init, port: port2 },
    transferList: [port2],
    execArgv: [],
  });
  const replies = new Map<number, (m: FromShard) => void>();
  const pongs = new Map<number, number>();
  let worst = 0;
  port1.on('message', (m: FromShard) => {
    if (m.t === 'reply') replies.get(m.id)?.(m);
    else if (m.t === 'pong') {
      worst = Math.max(worst, performance.now() - pongs.get(m.id)!);
      pongs.delete(m.id);
    }
  });
  await new Promise((resolve) => port1.once('message', resolve));
  let id = 0;
  const batch = (ops: unknown[]): Promise<FromShard> =>
    new Promise((resolve) => {
      replies.set(++id, resolve);
      port1.postMessage({ t: 'batch', id, epoch: 1, ops } satisfies ToShard);
    });
  for (let i = 0; i < n; i += 1000) {
    const ops: unknown[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) ops.push(Op.SET, j === 0 ? 'a'.repeat(40) : `key:${j}`, value);
    await batch(ops);
  }
  let pingId = 0;
  const pinger = setInterval(() => {
    pongs.set(++pingId, performance.now());
    port1.postMessage({ t: 'ping', id: pingId } satisfies ToShard);
  }, 10);
  worst = 0;
  const start = performance.now();
  const reply = (await batch([Op.KEYS, pattern, undefined])) as Extract<FromShard, { t: 'reply' }>;
  const seconds = (performance.now() - start) / 1000;
  clearInterval(pinger);
  // A ping still out when the walk ended counts as late as it is.
  for (const sent of pongs.values()) worst = Math.max(worst, performance.now() - sent);
  const list = reply.results[0] as string[] | { lengths: Uint32Array };
  await worker.terminate();
  return { ms: Math.round(worst), keys: Array.isArray(list) ? list.length : list.lengths.length, pings: pingId, seconds };
}

const probeKeys = Math.ceil(keyCount / shards);
const probes: { pattern: string; keys: number; seconds: number; pings: number; max_ping_ms: number }[] = [];
for (const pattern of ['*', PATHOLOGICAL]) {
  const p = await probePings(probeKeys, pattern);
  probes.push({ pattern, keys: p.keys, seconds: Number(p.seconds.toFixed(2)), pings: p.pings, max_ping_ms: p.ms });
  log(
    `one shard, ${probeKeys.toLocaleString('en')} keys: KEYS ${pattern} ${p.seconds.toFixed(2)} s, ${p.keys} keys, ${p.pings} pings, worst ping round trip ${p.ms} ms`,
  );
}

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
  probes,
};
if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else log(walkCrashes.length === 0 ? 'no shard crashed during the commands' : `CRASHES during the commands: ${walkCrashes.join('; ')}`);
if (walkCrashes.length > 0) process.exitCode = 1;
