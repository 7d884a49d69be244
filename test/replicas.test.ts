// Replicas inside the cluster: every key on R shards, reads fail over, a killed or hung shard
// loses nothing and its replacement is refilled; with one copy a crash reports what it lost.
import { once } from 'node:events';
import t from 'tap';
import { keys, missing, N, preload, startCluster } from './helpers/cluster.js';

t.test('R = 2: each key on two shards; counts see each key once', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2 });
  await preload(c);
  const st = await c.stats();
  t.equal(st.totals.keys, 2 * N, 'two copies of every key');
  t.equal(await c.dbsize(), N, 'DBSIZE counts keys, not copies');
  t.equal((await c.keys('k1*')).length, keys.filter((k) => k.startsWith('k1')).length, 'KEYS lists a key once');
  const seen: (string | Buffer)[] = [];
  for await (const k of c.scanIterator({ count: 500 })) seen.push(k);
  t.equal(new Set(seen).size, N, 'SCAN returns every key');
  t.equal(seen.length, N, '... once');
  t.equal(await c.del('k1', 'k2', 'nope'), 2, 'DEL counts keys, not copies');
  t.equal((await c.stats()).totals.keys, 2 * N - 4, 'and removes both copies');
  t.equal(await c.incrBy('counter', 5), 5);
  t.equal(await c.incrBy('counter', 5), 10, 'copies stay identical (same order on every copy)');
});

for (const fault of ['exit', 'hang'] as const) {
  t.test(`R = 2: a shard that ${fault === 'exit' ? 'crashes' : 'hangs'} loses no key; its replacement is refilled`, async (t) => {
    const c = await startCluster(t, { shards: 3, replicas: 2, faultInjection: true, watchdogIntervalMs: 20, watchdogTimeoutMs: 300 });
    await preload(c);
    const crash = once(c, 'crash');
    const whole = once(c, 'whole');
    c.injectFault(2, fault);
    const [crashEvent] = (await crash) as [{ keysLost: number; restarting: boolean }];
    t.match(crashEvent, { keysLost: 0, restarting: true });
    t.equal(await missing(c), 0, 'every key readable while the replacement is refilled (reads use the other copy)');
    await c.set('written-while-degraded', 'yes');
    const [wholeEvent] = (await whole) as [{ shardId: number; keysRefilled: number }];
    t.equal(wholeEvent.shardId, 2);
    t.ok(wholeEvent.keysRefilled > N / 2, `refilled ${wholeEvent.keysRefilled} keys`);
    t.equal(await missing(c), 0, 'every key readable once whole');
    t.equal(await c.get('written-while-degraded'), 'yes');
    t.equal((await c.stats()).totals.keys, 2 * N + 2, 'both copies of every key again');
    // Now the other copies can go: the refilled shard has them.
    const whole2 = once(c, 'whole');
    c.injectFault(3, 'exit');
    await whole2;
    t.equal(await missing(c), 0, 'a second crash after the refill loses nothing either');
  });
}

t.test('R = 2: a read in flight on a crashing shard is answered by the other copy', async (t) => {
  const c = await startCluster(t, { shards: 2, replicas: 2, faultInjection: true });
  await preload(c);
  c.injectFault(1, 'exit');
  const values = await Promise.all(keys.slice(0, 500).map((k) => c.get(k)));
  t.equal(values.filter((v, i) => v !== `v${keys[i]}`).length, 0, 'no SHARD_CRASHED reaches the caller');
  t.equal(await c.set('w', 'x'), true, 'writes succeed on the surviving copy');
});

t.test('R = 1: a crash reports how many keys went with the shard', async (t) => {
  const c = await startCluster(t, { shards: 3, faultInjection: true });
  await preload(c);
  const held = (await c.stats()).shards[0]!.stats!.keys;
  const crash = once(c, 'crash');
  c.injectFault(1, 'exit');
  const [e] = (await crash) as [{ keysLost: number }];
  t.equal(e.keysLost, held, `reported the ${held} keys node-1 held`);
  await c.whenReady();
  t.equal(await missing(c), held, 'exactly that shard’s keys are gone');
});

t.test('options.replicas is validated', async (t) => {
  await t.rejects(startCluster(t, { replicas: 0 }), { code: 'EINVAL', message: /options.replicas must be an integer from 1 to 5/ });
  await t.rejects(startCluster(t, { replicas: 9 }), { code: 'EINVAL' });
});

t.test('R = 2: a key written to a replacement before its refill and deleted during it stays deleted', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2, faultInjection: true });
  // A key whose primary is node-2, the shard that will crash.
  const key = keys.find((k) => c.ownerOf(k) === 'node-2')!;
  const refill = new Promise<void>((resolve) => c.on('migration', (e) => e.kind === 'refill' && e.phase === 'start' && resolve()));
  const whole = once(c, 'whole');
  c.injectFault(2, 'exit');
  await once(c, 'crash');
  // Before the refill starts the replacement takes writes like any copy...
  const written = c.set(key, 'written-before-refill');
  await refill;
  t.equal(await written, true);
  // ...and during the refill the range's writes go to the complete copies only.
  t.equal(await c.del(key), 1);
  await whole;
  t.equal(await c.get(key), null, 'the refill replaced the range: the delete holds on the replacement too');
  t.equal((await c.stats()).totals.keys, 0, 'no copy left anywhere');
});
