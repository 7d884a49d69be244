// Races between crashes, moves, limits and close that a review found: each case here once lost,
// resurrected or mis-answered data, or left a promise unsettled.
import { once } from 'node:events';
import t from 'tap';
import type { Cluster } from '../src/index.js';
import { startCluster } from './helpers/cluster.js';

const N = 20_000;
const keys = Array.from({ length: N }, (_, i) => `k${i}`);

async function preload(c: Cluster): Promise<void> {
  for (let i = 0; i < N; i += 1000) await c.mset(keys.slice(i, i + 1000).map((k) => [k, `v${k}`] as const));
}

/** Calls `wave` again and again, yielding to the event loop between calls, while a migration runs. */
async function whileMoving(c: Cluster, wave: (n: number) => void): Promise<number> {
  let n = 0;
  while (c.migration() === null) await new Promise((r) => setImmediate(r));
  while (c.migration() !== null) {
    wave(n++);
    await new Promise((r) => setImmediate(r));
  }
  return n;
}

async function missing(c: Cluster): Promise<number> {
  const values = await c.mget(keys);
  return values.filter((v, i) => v !== `v${keys[i]}`).length;
}

t.test('a replacement that dies during its own refill is refilled again before it is whole', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2, faultInjection: true });
  await preload(c);
  let refills = 0;
  c.on('migration', (e) => {
    if (e.kind === 'refill' && e.phase === 'start' && ++refills === 1) c.injectFault(2, 'exit');
  });
  c.injectFault(2, 'exit');
  await once(c, 'whole');
  t.ok(refills >= 2, `refilled again (${refills} refills)`);
  t.equal(await missing(c), 0, 'every key readable once whole');
  t.equal((await c.stats()).totals.keys, 2 * N, 'two copies of every key');
});

t.test('right after a crash, a write is answered by a complete copy, not the empty replacement', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2, faultInjection: true });
  const mine = keys.filter((k) => c.ownerOf(k) === 'node-2').slice(0, 50);
  await Promise.all(mine.map((k) => c.set(k, '5')));
  c.injectFault(2, 'exit');
  await once(c, 'crash');
  const incremented = await Promise.all(mine.map((k) => c.incr(k)));
  t.same(new Set(incremented), new Set([6]), 'INCR of 5 answers 6');
  const nx = await Promise.all(mine.map((k) => c.set(k, 'x', { nx: true })));
  t.same(new Set(nx), new Set([false]), 'SET NX on an existing key is refused');
  await once(c, 'whole');
  t.same(new Set(await c.mget(mine)), new Set(['6']));
});

t.test('with replicas and a memory limit, an acknowledged write is readable', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2, maxMemoryBytes: 96 * 1024, evictionPolicy: 'noeviction' });
  const acked: string[] = [];
  for (let i = 0; i < 1500; i++) {
    const ok = await c.set(`m${i}`, 'x'.repeat(100)).then(
      () => true,
      () => false,
    );
    if (ok) acked.push(`m${i}`);
  }
  t.ok(acked.length > 0 && acked.length < 1500, `${acked.length} writes fit`);
  const values = await c.mget(acked);
  t.equal(values.filter((v) => v === null).length, 0, 'every acknowledged write reads back');
});

t.test('a copy left on a shard that crashed mid-move is dropped: deleted keys stay deleted', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2, faultInjection: true });
  await preload(c);
  c.once('migration', () => c.injectFault(2, 'exit'));
  // Writes keep coming during the move: some reach node-2's replacement while their range is 'old'.
  const writes: Promise<unknown>[] = [];
  const adding = c.addShard();
  await whileMoving(c, (n) => {
    for (let i = 0; i < 200; i++) writes.push(c.set(keys[(n * 200 + i) % N]!, `v${keys[(n * 200 + i) % N]}`));
  });
  await adding;
  await Promise.all(writes);
  await c.whenReady();
  if (c.migration() !== null || (await c.stats()).totals.keys !== 2 * N) await once(c, 'whole');
  t.equal(await c.del(...keys), N);
  t.same(await c.keys('k*'), [], 'no key listed');
  t.equal((await c.stats()).totals.keys, 0, 'no copy left anywhere');
  await c.removeShard(4);
  t.same(await c.keys('k*'), [], 'none back after the range moves home');
});

t.test('close() during a migration settles every op', async (t) => {
  for (const replicas of [1, 2]) {
    const c = await startCluster(t, { shards: 3, replicas });
    await preload(c);
    const ops: Promise<unknown>[] = [];
    const adding = c.addShard().catch(() => undefined);
    // Writes throughout the move, some held on moving ranges; close() comes in the middle of it.
    await whileMoving(c, (n) => {
      for (let i = 0; i < 500; i++) {
        ops.push(
          c.set(keys[(n * 500 + i) % N]!, 'w').then(
            () => 'ok',
            (e: { code?: string }) => e.code,
          ),
        );
      }
      if (n === 3) void c.close();
    });
    await adding;
    // A stranded op would leave this await hanging (tap's timeout reports it).
    const outcomes = new Set(await Promise.all(ops));
    t.ok(
      [...outcomes].every((o) => o === 'ok' || o === 'CLOSED'),
      `replicas ${replicas}: every op settled: ${[...outcomes]}`,
    );
  }
});

t.test("an MSET waiting for a moving range is not overtaken by the caller's later SET", async (t) => {
  const c = await startCluster(t, { shards: 3 });
  await preload(c);
  const pairs: Promise<unknown>[] = [];
  const moved = c.addShard();
  let count = 0;
  // Throughout the move: a write to each key (so moving ranges hold writes), then MSET + SET pairs.
  await whileMoving(c, (n) => {
    for (let i = 0; i < 200; i++) {
      const a = keys[(n * 200 + i) % N]!;
      pairs.push(c.set(a, 'w'));
      const b = `b${count++}`;
      pairs.push(
        c.mset([
          [a, 'x'],
          [b, 'from-mset'],
        ]),
      );
      pairs.push(c.set(b, 'from-later-set'));
    }
  });
  await Promise.all(pairs);
  await moved;
  const bs = await c.mget(Array.from({ length: count }, (_, i) => `b${i}`));
  t.ok(count > 0, `${count} pairs during the move`);
  t.equal(bs.filter((v) => v !== 'from-later-set').length, 0, 'the later SET wins every time');
});

t.test('a custom hash cannot be combined with moves or replicas', async (t) => {
  const c = await startCluster(t, { shards: 2, hash: (s) => Buffer.from(String(s)).reduce((a, b) => (a * 31 + b) >>> 0, 7) });
  await t.rejects(c.addShard(), { code: 'EINVAL', message: /membership changes need the default hash/ });
  await t.rejects(c.removeShard(1), { code: 'EINVAL' });
  await t.rejects(startCluster(t, { replicas: 2, hash: () => 1 }), {
    code: 'EINVAL',
    message: /options.hash can only be replaced with replicas 1/,
  });
});
