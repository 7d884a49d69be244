// bench:memory — what a key costs in memory: RSS per key of an embedded cluster (in a process of its
// own) and of a redis-server, filled with the same keys × distinct values in the same run. With
// --accounting, how well the shards' memory accounting (used_memory, stats().totals.bytes) tracks
// the RSS the data takes instead. Never asserts: it prints figures (the README states them).
//
//   npm run bench:memory -- [--keys 1000000,5000000] [--value-size 100] [--targets shardcache,redis]
//                           [--shards N] [--rounds 3] [--watchdog-timeout 1500] [--json]
//   npm run bench:memory -- --accounting [--sizes 16,100,1024,16384] [--mb 160] [--shards 2] [--bytes] [--start] [--json]
//
// Per key: the cluster's process RSS growth from the empty cluster (after a forced GC of the main
// thread) and redis-server's VmRSS growth from the empty server, filled by `DEBUG POPULATE n key
// <size>` (or pipelined SETs where DEBUG is refused); one fresh process/server per figure, the
// targets alternating (A B A B), medians over --rounds.
// --accounting: fills an embedded cluster with N keys of one value size and compares the process's
// RSS growth with the accounted bytes, one child process per size. --mb: accounted megabytes to
// fill per size (the key count follows from it); --bytes stores values as bytes (Buffers) rather
// than strings; --start measures a `shardcache start --maxmemory <mb>mb` process instead (its RSS
// from /proc), filled over RESP until writes fail with OOM.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createCluster } from '../src/index.js';
import { entrySize } from '../workers/store.js';
import { startShardcache, stop } from './servers.js';
import { rssOf } from './common.js';
import { perKeyChild, perKeyMain } from './memory-per-key.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '16,100,1024,16384' },
    mb: { type: 'string', default: '160' },
    shards: { type: 'string' },
    accounting: { type: 'boolean', default: false },
    keys: { type: 'string', default: '1000000,5000000' },
    'value-size': { type: 'string', default: '100' },
    targets: { type: 'string', default: 'shardcache,redis' },
    rounds: { type: 'string', default: '3' },
    'watchdog-timeout': { type: 'string', default: '1500' },
    bytes: { type: 'boolean', default: false },
    start: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
    'child-keys': { type: 'string' },
  },
});

interface Figure {
  value_bytes: number;
  kind: 'string' | 'bytes';
  target: 'embedded' | 'start';
  keys: number;
  accounted_bytes: number;
  rss_growth_bytes: number;
  /** RSS growth ÷ accounted bytes: 1 is exact. */
  ratio: number;
  /**
   * The second half of the fill alone (RSS growth ÷ accounted growth from half to full): what
   * each entry really costs, without the fixed memory a fill costs once (young generations).
   */
  marginal_ratio: number;
}

const sizes = args.sizes.split(',').map(Number);
const mb = Number(args.mb);
const shards = Number(args.shards ?? 2);
for (const [name, n] of [['mb', mb], ['shards', shards], ...sizes.map((s) => ['sizes', s] as const)] as const) {
  if (!(Number.isInteger(n) && n > 0)) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(2);
  }
}

/** Lets the threads finish what the fill left (garbage collections run on allocation). */
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function child(valueBytes: number): Promise<Figure> {
  const cluster = await createCluster({ shards });
  await settle(300);
  const before = process.memoryUsage.rss();
  // Roughly the key count that fills `mb` accounted megabytes (keys are `k` + 7 digits).
  const perEntry = entrySize('k0000000', args.bytes ? new Uint8Array(valueBytes) : 'x'.repeat(valueBytes));
  const keys = Math.max(1000, Math.floor((mb * 1024 * 1024) / perEntry));
  const text = 'x'.repeat(valueBytes);
  const CHUNK = 1000;
  const half = Math.floor(keys / 2 / CHUNK) * CHUNK;
  let halfRss = 0;
  let halfBytes = 0;
  for (let i = 0; i < keys; i += CHUNK) {
    if (i === half) {
      await settle(500);
      halfBytes = (await cluster.stats()).totals.bytes;
      halfRss = process.memoryUsage.rss();
    }
    const pairs: [string, string | Buffer][] = [];
    for (let j = i; j < Math.min(keys, i + CHUNK); j++) {
      const key = `k${String(j).padStart(7, '0')}`;
      pairs.push([key, args.bytes ? Buffer.alloc(valueBytes, j & 0xff) : text]);
    }
    await cluster.mset(pairs);
  }
  await settle(1000);
  const st = await cluster.stats();
  const after = process.memoryUsage.rss();
  await cluster.close();
  const growth = after - before;
  return {
    value_bytes: valueBytes,
    kind: args.bytes ? 'bytes' : 'string',
    target: 'embedded',
    keys: st.totals.keys,
    accounted_bytes: st.totals.bytes,
    rss_growth_bytes: growth,
    ratio: Number((growth / st.totals.bytes).toFixed(3)),
    marginal_ratio: Number(((after - halfRss) / (st.totals.bytes - halfBytes)).toFixed(3)),
  };
}

/** The used_memory INFO reports. */
async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

/** `shardcache start --maxmemory <mb>mb` filled over RESP until writes fail with OOM (noeviction). */
async function childStart(valueBytes: number): Promise<Figure> {
  const server = await startShardcache(['--shards', String(shards), '--maxmemory', `${mb}mb`, '--log-level', 'silent']);
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    await settle(300);
    const pid = server.proc.pid!;
    const before = rssOf(pid);
    const value = args.bytes ? Buffer.alloc(valueBytes, 0xfe) : 'x'.repeat(valueBytes);
    let halfRss = 0;
    let halfBytes = 0;
    let refused = 0;
    for (let i = 0; refused < 1000; ) {
      const pipe = redis.pipeline();
      for (let j = 0; j < 500; j++) pipe.set(`k${String(i++).padStart(7, '0')}`, value);
      refused += ((await pipe.exec()) ?? []).filter(([err]) => err !== null).length;
      if (halfRss === 0 && (await usedMemory(redis)) >= (mb * 1024 * 1024) / 2) {
        await settle(500);
        halfBytes = await usedMemory(redis);
        halfRss = rssOf(pid);
      }
    }
    await settle(1000);
    const accounted = await usedMemory(redis);
    const after = rssOf(pid);
    return {
      value_bytes: valueBytes,
      kind: args.bytes ? 'bytes' : 'string',
      target: 'start',
      keys: await redis.dbsize(),
      accounted_bytes: accounted,
      rss_growth_bytes: after - before,
      ratio: Number(((after - before) / accounted).toFixed(3)),
      marginal_ratio: Number(((after - halfRss) / (accounted - halfBytes)).toFixed(3)),
    };
  } finally {
    redis.disconnect();
    await stop(server);
  }
}

if (args['child-keys'] !== undefined) {
  await perKeyChild(
    Number(args['child-keys']),
    Number(args['value-size']),
    args.shards === undefined ? undefined : Number(args.shards),
    Number(args['watchdog-timeout']),
  );
} else if (!args.accounting) {
  await perKeyMain({
    keys: args.keys,
    valueSize: args['value-size'],
    targets: args.targets,
    shards: args.shards,
    watchdogTimeout: args['watchdog-timeout'],
    rounds: args.rounds,
    json: args.json,
  });
} else if (args.child !== undefined) {
  const figure = args.start ? await childStart(Number(args.child)) : await child(Number(args.child));
  process.stdout.write(`${JSON.stringify(figure)}\n`);
} else {
  const script = fileURLToPath(import.meta.url);
  const figures: Figure[] = [];
  const out = (line: string): void => void (args.json ? process.stderr : process.stdout).write(`${line}\n`);
  out(
    `bench:memory: ${args.start ? 'shardcache start' : 'embedded cluster'}, ${shards} shards, ~${mb} MB accounted per size, ${args.bytes ? 'byte' : 'string'} values`,
  );
  for (const size of sizes) {
    const childArgs = [script, '--accounting', '--child', String(size), '--mb', String(mb), '--shards', String(shards)];
    if (args.bytes) childArgs.push('--bytes');
    if (args.start) childArgs.push('--start');
    const f = JSON.parse(execFileSync(process.execPath, childArgs, { encoding: 'utf8' }).trim()) as Figure;
    figures.push(f);
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
    out(
      `${String(size).padStart(6)} B × ${f.keys.toLocaleString('en')} keys: accounted ${mib(f.accounted_bytes)} MiB, ` +
        `RSS growth ${mib(f.rss_growth_bytes)} MiB, ratio ${f.ratio.toFixed(2)} (second half alone ${f.marginal_ratio.toFixed(2)})`,
    );
  }
  if (args.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
}
