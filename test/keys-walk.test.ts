// End to end: pathological KEYS and SCAN MATCH patterns on a cluster under a bounded SET/GET load
// (RESP, with 1 and 2 copies) crash no shard and lose no key; a busy main thread does not make
// the watchdog kill shards that did answer.
import { Redis } from 'ioredis';
import t from 'tap';
import { startCluster } from './helpers/cluster.js';
import { serve } from './helpers/resp.js';

const PATHOLOGICAL = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
/** Matches only the long key: as much work per key, and one answer. */
const ONLY_LONG = '*a*a*a*a*a*a*a*a*a*a*a*a*a';
const LONG = 'a'.repeat(40);
const N = 30_000;
const keyOf = (i: number): string => (i === 0 ? LONG : `k:${i}`);

async function scanAll(io: Redis, match: string, count: number): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await io.scan(cursor, 'MATCH', match, 'COUNT', count);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

for (const replicas of [1, 2]) {
  t.test(`replicas ${replicas}: pathological patterns under load, no crash, no key lost`, async (t) => {
    // A small watchdog: a shard stuck in one pattern would be killed within a second.
    const cluster = await startCluster(t, { shards: 3, replicas, watchdogIntervalMs: 50, watchdogTimeoutMs: 1000 });
    const crashes: string[] = [];
    cluster.on('crash', (e) => crashes.push(`${e.name}: ${e.reason}`));
    const port = await serve(t, cluster);
    const io = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    const load = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    await Promise.all([io.connect(), load.connect()]);
    t.teardown(() => {
      io.disconnect();
      load.disconnect();
    });
    for (let i = 0; i < N; i += 1000) {
      const args: string[] = [];
      for (let j = i; j < i + 1000; j++) args.push(keyOf(j), `v${j}`);
      await io.mset(...args);
    }

    // Bounded load on its own keys while the walks run: 4 lanes × 200 SET+GET.
    const lastWritten = new Map<string, string>();
    const misread: string[] = [];
    const lanes = Array.from({ length: 4 }, async (_, lane) => {
      for (let i = 0; i < 200; i++) {
        const key = `load:${lane}:${i % 25}`;
        await load.set(key, `${i}`);
        lastWritten.set(key, `${i}`);
        const got = await load.get(key);
        if (got !== `${i}`) misread.push(`${key}=${got} (wrote ${i})`);
      }
    });
    const [keysNone, keysLong, scanNone, scanLong, scanSmall] = await Promise.all([
      io.keys(PATHOLOGICAL),
      io.keys(ONLY_LONG),
      scanAll(io, PATHOLOGICAL, 100_000),
      scanAll(io, ONLY_LONG, 100_000),
      scanAll(io, PATHOLOGICAL, 500),
    ]);
    await Promise.all(lanes);
    t.same(keysNone, [], `KEYS ${PATHOLOGICAL}`);
    t.same(keysLong, [LONG], `KEYS ${ONLY_LONG}`);
    t.same(scanNone, [], 'SCAN MATCH with a big COUNT');
    t.same(scanLong, [LONG], 'SCAN MATCH finds the long key once');
    t.same(scanSmall, [], 'SCAN MATCH with a small COUNT');
    t.same(misread, [], 'the load read its own writes');
    t.equal((await io.keys('*')).length, N + lastWritten.size, 'KEYS * lists every key once');

    t.same(crashes, [], 'no crash event');
    t.same(
      cluster.shards().map((s) => s.crashes),
      [0, 0, 0],
      'no shard counts a crash',
    );
    const info = await io.info('shards');
    t.notMatch(info, /crashes=[1-9]/, 'INFO shards: no crashes');
    let lost = 0;
    for (let i = 0; i < N; i += 1000) {
      const keys = Array.from({ length: 1000 }, (_, j) => keyOf(i + j));
      const values = await io.mget(...keys);
      values.forEach((v, j) => {
        if (v !== `v${i + j}`) lost++;
      });
    }
    t.equal(lost, 0, `all ${N} keys read back with their values`);
    for (const [key, value] of lastWritten) if ((await io.get(key)) !== value) lost++;
    t.equal(lost, 0, 'and the load keys with their last values');
  });
}

t.test('a busy main thread does not get answered shards killed', async (t) => {
  const cluster = await startCluster(t, { shards: 2, watchdogIntervalMs: 10, watchdogTimeoutMs: 400 });
  const crashes: string[] = [];
  cluster.on('crash', (e) => crashes.push(e.reason));
  await cluster.set('k', 'v');
  // Stalls longer than the watchdog's deadline, in the check phase, where a ping's deadline can
  // come due while its pong waits in the port (at random moments of the ping cycle).
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        const end = performance.now() + 600;
        while (performance.now() < end);
        resolve();
      }),
    );
  }
  t.equal(await cluster.get('k'), 'v');
  t.same(crashes, []);
});
