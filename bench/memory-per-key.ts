// bench:memory's default measure: RSS per key of an embedded cluster and of redis-server filled with
// the same N keys × distinct values, each in a fresh process (the cluster's child is this bench's
// own script with --child-keys). It only reads memory figures; it never asserts on them.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { median } from '../src/bench/compare.js';
import { createCluster } from '../src/index.js';
import { entryKey, exitOnCrash, msetRange, reportLines, requirePositiveInts, rssOf, ValueMaker } from './common.js';
import { startRedis, stop } from './servers.js';

/** One target's memory at one key count. */
export interface PerKeyFigure {
  target: string;
  keys: number;
  /** RSS growth over the empty process (cluster) or empty server (redis), bytes. */
  rss_bytes: number;
  bytes_per_key: number;
  /** How redis-server was filled: DEBUG POPULATE or pipelined SETs (redis only). */
  fill?: 'debug-populate' | 'set';
}

/** Lets the threads finish what the fill left (their garbage collections run on allocation and idle time). */
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Child mode: an embedded cluster filled with `keys` entries; prints its figure as JSON. */
export async function perKeyChild(keys: number, valueSize: number, shards: number | undefined, watchdogTimeoutMs: number): Promise<void> {
  const values = new ValueMaker(valueSize);
  const cluster = await createCluster({ shards, watchdogTimeoutMs });
  exitOnCrash(cluster, 'bench:memory');
  await settle(300);
  gc();
  const before = process.memoryUsage.rss();
  await msetRange(cluster, values, 0, keys);
  await settle(1000);
  gc();
  const rss = process.memoryUsage.rss() - before;
  const stored = await cluster.dbsize();
  await cluster.close();
  const figure: PerKeyFigure = { target: 'shardcache', keys: stored, rss_bytes: rss, bytes_per_key: Math.round(rss / stored) };
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

/** redis-server ≥ 7 refuses DEBUG unless started with `--enable-debug-command local`; older ones allow it and reject the flag. */
function debugFlag(): string[] {
  const m = /v=(\d+)\./.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '');
  return m !== null && Number(m[1]) >= 7 ? ['--enable-debug-command', 'local'] : [];
}

/** A fresh redis-server filled with `keys` entries: its VmRSS growth over the empty server. */
async function redisFigure(keys: number, valueSize: number): Promise<PerKeyFigure> {
  const server = await startRedis(debugFlag());
  const client = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    await settle(200);
    const pid = server.proc.pid!;
    const before = rssOf(pid);
    let fill: 'debug-populate' | 'set' = 'debug-populate';
    try {
      await client.call('DEBUG', 'POPULATE', String(keys), 'key', String(valueSize));
    } catch {
      // DEBUG disabled on this server: the same keys by pipelined SETs (distinct values of the same size).
      fill = 'set';
      const values = new ValueMaker(valueSize);
      for (let i = 0; i < keys; i += 1000) {
        const pipe = client.pipeline();
        for (let j = i; j < Math.min(keys, i + 1000); j++) pipe.set(entryKey(j), values.value(j, 0));
        await pipe.exec();
      }
    }
    await settle(200);
    const rss = rssOf(pid) - before;
    const stored = await client.dbsize();
    return { target: 'redis', keys: stored, rss_bytes: rss, bytes_per_key: Math.round(rss / stored), fill };
  } finally {
    client.disconnect();
    await stop(server);
  }
}

/** The parent: rounds × key counts × targets, alternating, then the medians, a table and the ratios. */
export async function perKeyMain(o: {
  keys: string;
  valueSize: string;
  targets: string;
  shards: string | undefined;
  watchdogTimeout: string;
  rounds: string;
  json: boolean;
}): Promise<void> {
  const counts = o.keys.split(',').map(Number);
  const valueSize = Number(o.valueSize);
  const rounds = Number(o.rounds);
  requirePositiveInts({ rounds, ...Object.fromEntries(counts.map((n, i) => [`keys (entry ${i + 1})`, n])) });
  new ValueMaker(valueSize); // checks --value-size before any work
  const log = reportLines(o.json);
  let targets = o.targets.split(',');
  for (const t of targets) if (t !== 'shardcache' && t !== 'redis') throw new Error(`unknown target ${t}; known: shardcache, redis`);
  if (targets.includes('redis') && spawnSync('redis-server', ['--version']).status !== 0) {
    log('redis-server not found: skipping the redis target (apt-get install redis-server)');
    targets = targets.filter((t) => t !== 'redis');
  }
  log(
    `bench:memory — RSS per key, ${valueSize} B distinct values, ${targets.join(' vs ')}, ${rounds} round(s) A B A B, medians; ` +
      'each figure in a fresh process',
  );
  const script = fileURLToPath(new URL('./memory.js', import.meta.url));
  const runs = new Map<string, PerKeyFigure[]>();
  for (let r = 0; r < rounds; r++) {
    for (const keys of counts) {
      for (const target of targets) {
        let f: PerKeyFigure;
        if (target === 'redis') f = await redisFigure(keys, valueSize);
        else {
          const args = [
            '--expose-gc',
            script,
            '--child-keys',
            String(keys),
            '--value-size',
            String(valueSize),
            '--watchdog-timeout',
            o.watchdogTimeout,
          ];
          if (o.shards !== undefined) args.push('--shards', o.shards);
          f = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').pop()!) as PerKeyFigure;
        }
        log(`  round ${r + 1} ${target} ${keys.toLocaleString('en')} keys: ${f.bytes_per_key} B/key`);
        const k = `${target}|${keys}`;
        runs.set(k, [...(runs.get(k) ?? []), f]);
      }
    }
  }
  const results: PerKeyFigure[] = [];
  for (const keys of counts) {
    for (const target of targets) {
      const all = runs.get(`${target}|${keys}`)!;
      const rss = Math.round(median(all.map((f) => f.rss_bytes)));
      const stored = all[0]!.keys;
      results.push({ ...all[0]!, rss_bytes: rss, bytes_per_key: Math.round(rss / stored) });
    }
  }
  const pad = (s: string | number, w: number): string => String(s).padStart(w);
  log(`${'target'.padEnd(10)} ${pad('keys', 10)} ${pad('RSS MB', 8)} ${pad('B/key', 6)}`);
  for (const f of results) {
    log(
      `${f.target.padEnd(10)} ${pad(f.keys.toLocaleString('en'), 10)} ${pad((f.rss_bytes / 2 ** 20).toFixed(1), 8)} ${pad(f.bytes_per_key, 6)}`,
    );
  }
  for (const keys of counts) {
    const a = results.find((f) => f.target === 'shardcache' && f.keys === keys);
    const b = results.find((f) => f.target === 'redis' && f.keys === keys);
    if (a !== undefined && b !== undefined) {
      log(`shardcache / redis at ${keys.toLocaleString('en')} keys: ${(a.bytes_per_key / b.bytes_per_key).toFixed(2)}× the bytes per key`);
    }
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ results })}\n`);
}
