// maxmemory is the whole cluster's at every shard count: the budgets are split again on every
// join and leave and add up to it; a store given a lower budget gets under it (LRU: in bounded
// steps; noeviction: writes fail with OOM until deletes bring it under).
import { Redis } from 'ioredis';
import t from 'tap';
import type { Cluster } from '../src/index.js';
import { ShardStore, entrySize } from '../workers/store.js';
import { startCluster } from './helpers/cluster.js';
import { serve } from './helpers/resp.js';

const MAX = 512 * 1024;
const VALUE = 'v'.repeat(1000);

async function budgets(c: Cluster): Promise<number[]> {
  return (await c.stats()).shards.map((s) => s.stats!.maxBytes);
}

/**
 * Writes new keys under noeviction until 64 writes in a row fail with OOM (every shard full),
 * and returns the bytes the cluster then holds.
 */
async function fill(c: Cluster, prefix: string): Promise<number> {
  let refusedInARow = 0;
  for (let i = 0; refusedInARow < 64 && i < 100_000; i++) {
    const ok = await c.set(`${prefix}${i}`, VALUE).then(
      () => true,
      (err: { code?: string }) => {
        if (err.code !== 'OOM') throw err;
        return false;
      },
    );
    refusedInARow = ok ? 0 : refusedInARow + 1;
  }
  return (await c.stats()).totals.bytes;
}

t.test('the budgets add up to maxMemoryBytes after every add and remove, and a crash keeps them', async (t) => {
  const c = await startCluster(t, { shards: 2, maxMemoryBytes: MAX + 1, evictionPolicy: 'noeviction', faultInjection: true });
  t.same(await budgets(c), [MAX / 2 + 1, MAX / 2], 'two shares, the odd byte to the first');
  const full2 = await fill(c, 'a');
  t.ok(full2 <= MAX + 1 && full2 > MAX * 0.9, `2 shards: OOM at ${full2} bytes`);
  await c.flushall();

  for (let n = 3; n <= 5; n++) {
    await c.addShard();
    const b = await budgets(c);
    t.equal(b.length, n);
    t.equal(
      b.reduce((x, y) => x + y, 0),
      MAX + 1,
      `${n} shards: the budgets still add up to maxMemoryBytes`,
    );
    t.ok(Math.max(...b) - Math.min(...b) <= 1, 'in equal shares');
  }
  const full5 = await fill(c, 'b');
  t.ok(full5 <= MAX + 1, `5 shards: OOM at ${full5} bytes, never past maxMemoryBytes`);
  t.ok(Math.abs(full5 - full2) < MAX * 0.1, 'about where 2 shards stopped');
  const redis = new Redis({ port: await serve(t, c), host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  t.teardown(() => redis.disconnect());
  t.same(await redis.config('GET', 'maxmemory'), ['maxmemory', String(MAX + 1)], 'CONFIG GET says the cluster total');
  t.match(await redis.info('memory'), `maxmemory:${MAX + 1}\r\n`, 'and so does INFO memory');

  await c.removeShard(c.shards()[0]!.id);
  t.equal(
    (await budgets(c)).reduce((x, y) => x + y, 0),
    MAX + 1,
    'after a remove too',
  );
  const before = await budgets(c);
  const id = c.shards()[1]!.id;
  const crash = new Promise<void>((resolve) => c.once('crash', () => resolve()));
  c.injectFault(id, 'exit');
  await crash;
  await c.whenReady();
  t.same(await budgets(c), before, 'a restarted shard keeps its share');
});

t.test('allkeys-lru: after shards are added every shard ends within its new budget', async (t) => {
  const c = await startCluster(t, { shards: 2, maxMemoryBytes: MAX, evictionPolicy: 'allkeys-lru' });
  for (let i = 0; i < 1500; i++) await c.set(`k${i}`, VALUE);
  await c.addShard();
  await c.addShard();
  // The shards trim a bounded step every 100 ms: ask until each is within its budget (bounded).
  let st = await c.stats();
  for (let i = 0; i < 5000 && st.shards.some((s) => s.stats!.bytes > s.stats!.maxBytes); i++) st = await c.stats();
  t.equal(st.totals.maxBytes, MAX);
  for (const s of st.shards) t.ok(s.stats!.bytes <= s.stats!.maxBytes, `${s.name}: ${s.stats!.bytes} ≤ ${s.stats!.maxBytes}`);
  t.ok(st.totals.bytes <= MAX);
});

t.test('a store given a lower budget: LRU trims in bounded steps, noeviction refuses writes until under', async (t) => {
  const size = entrySize('k00', VALUE);
  const lru = new ShardStore({ maxBytes: 100 * size, policy: 'allkeys-lru' });
  for (let i = 0; i < 100; i++) lru.setPlain(`k${String(i).padStart(2, '0')}`, VALUE);
  lru.setMaxBytes(40 * size);
  t.equal(lru.size, 100, 'nothing is evicted at once');
  lru.setPlain('k00', VALUE);
  t.equal(lru.size, 100, 'an overwrite adds nothing, so evicts nothing');
  lru.setPlain('new', VALUE);
  t.equal(lru.size, 100, 'a new key evicts about what it adds, not the whole excess');
  t.equal(lru.trim(25), 25, 'one step evicts at most its bound');
  t.equal(lru.size, 75);
  t.equal(lru.get('k01'), null, 'least recently used first');
  t.equal(lru.get('k00'), VALUE, 'the key rewritten is kept');
  while (lru.trim(25) > 0);
  t.ok(lru.bytes <= 40 * size, 'under the new budget');
  t.equal(lru.size, 40);
  t.equal(lru.trim(25), 0, 'nothing more to do');

  const noev = new ShardStore({ maxBytes: 10 * size, policy: 'noeviction' });
  for (let i = 0; i < 10; i++) noev.setPlain(`k${String(i).padStart(2, '0')}`, VALUE);
  noev.setMaxBytes(5 * size);
  t.equal(noev.trim(), 0, 'noeviction never evicts');
  t.throws(() => noev.setPlain('new', VALUE), { code: 'OOM' });
  noev.setPlain('k00', 'short');
  t.equal(noev.get('k00'), 'short', 'a write that shrinks is allowed');
  noev.del(['k01', 'k02', 'k03', 'k04', 'k05', 'k06']);
  noev.setPlain('new', VALUE);
  t.equal(noev.get('new'), VALUE, 'under the budget again, writes succeed');
  t.throws(() => noev.setMaxBytes(-1), { code: 'EINVAL' });
});
