// Live membership with real shard workers: shards join and leave while writers and readers run;
// nothing acknowledged is lost, nothing deleted comes back, reads are never older than an ack.
import t from 'tap';
import type { Cluster } from '../src/index.js';
import { startCluster } from './helpers/cluster.js';

/** Sequential writers over their own keys, readers checking every read against the model. */
function load(c: Cluster, writers: number, keysPerWriter: number) {
  const acked = new Map<string, string | null>(); // last acknowledged value (null: deleted)
  const issued = new Map<string, number>(); // version of the last write issued
  let stop = false;
  let writes = 0;
  let reads = 0;
  const problems: string[] = [];
  const version = (v: string | null): number => (v === null ? -1 : Number(v.split(':')[1]));
  const writer = async (w: number): Promise<void> => {
    for (let n = 0; !stop; n++) {
      const key = `w${w}:${n % keysPerWriter}`;
      issued.set(key, n);
      if (n % 7 === 3) {
        await c.del(key);
        acked.set(key, null);
      } else {
        const value = `${w}:${n}`;
        await c.set(key, value);
        acked.set(key, value);
      }
      writes++;
    }
  };
  const reader = async (r: number): Promise<void> => {
    for (let n = 0; !stop; n++) {
      const key = `w${(r + n) % writers}:${n % keysPerWriter}`;
      const known = acked.has(key);
      const before = acked.get(key) ?? null;
      const floor = before === null ? -1 : version(before);
      const got = (await c.get(key)) as string | null;
      reads++;
      if (!known) continue;
      // A write acked before the read started must be visible (or a newer one, possibly a delete).
      if (got === null) {
        if (before !== null && issued.get(key)! === floor) problems.push(`stale: ${key} read null after ${before} was acked`);
      } else if (version(got) < floor) problems.push(`stale: ${key} read ${got} after ${before} was acked`);
    }
  };
  const running = Promise.all([...Array.from({ length: writers }, (_, w) => writer(w)), ...Array.from({ length: 4 }, (_, r) => reader(r))]);
  return {
    acked,
    problems,
    counts: () => ({ writes, reads }),
    stop: async () => {
      stop = true;
      await running;
    },
  };
}

/** Compares the cluster with the model: writes lost and deleted keys that came back. */
async function verify(c: Cluster, acked: Map<string, string | null>): Promise<{ lost: number; resurrected: number }> {
  const keys = [...acked.keys()];
  const values = await c.mget(keys);
  let lost = 0;
  let resurrected = 0;
  keys.forEach((k, i) => {
    const want = acked.get(k)!;
    if (want === null && values[i] !== null) resurrected++;
    if (want !== null && values[i] !== want) lost++;
  });
  return { lost, resurrected };
}

async function preload(c: Cluster, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    await c.mset(Array.from({ length: Math.min(1000, n - i) }, (_, j) => [`p${i + j}`, `v${i + j}`] as const));
  }
}

t.test('adding and removing shards under load loses nothing', async (t) => {
  const c = await startCluster(t, { shards: 3 });
  await preload(c, 20_000);
  await c.set('ttl-key', 'x', { px: 600_000 });
  const expireAt = await c.pexpireTime('ttl-key');
  const events: string[] = [];
  c.on('join', (e) => events.push(`join ${e.name}`));
  c.on('leave', (e) => events.push(`leave ${e.name}`));
  c.on('epoch', (e) => events.push(`epoch ${e.epoch}`));
  c.on('migration', (e) => events.push(`migration ${e.phase} ${e.kind} ${e.shardId}`));

  const owners = new Map<string, string>();
  for (let i = 0; i < 20_000; i++) owners.set(`p${i}`, c.ownerOf(`p${i}`));
  const l = load(c, 8, 50);
  const added = await c.addShard();
  t.match(added, { id: 4, name: 'node-4', state: 'ready' });
  t.equal(c.epoch, 4);
  t.equal(c.migration(), null, 'the migration is over when addShard resolves');
  let moved = 0;
  let elsewhere = 0;
  for (const [k, before] of owners) {
    const now = c.ownerOf(k);
    if (now !== before) {
      moved++;
      if (now !== 'node-4') elsewhere++;
    }
  }
  t.equal(elsewhere, 0, 'keys move only to the new shard');
  const st = await c.stats();
  const n4 = st.shards.find((s) => s.name === 'node-4')!.stats!.keys;
  t.ok(n4 >= moved, `node-4 holds the ${moved} moved keys (${n4} with the writers' keys)`);

  await c.removeShard(2);
  t.same(
    c.shards().map((s) => s.name),
    ['node-1', 'node-3', 'node-4'],
  );
  await l.stop();
  t.same(l.problems, [], 'no stale read');
  t.ok(l.counts().writes > 100, `writes kept flowing (${JSON.stringify(l.counts())})`);
  t.same(await verify(c, l.acked), { lost: 0, resurrected: 0 }, 'no acknowledged write lost, no deleted key back');
  const values = await c.mget(Array.from({ length: 20_000 }, (_, i) => `p${i}`));
  t.equal(values.filter((v, i) => v !== `v${i}`).length, 0, 'every preloaded key readable');
  t.equal(await c.pexpireTime('ttl-key'), expireAt, 'the TTL moved as an absolute time');
  const totals = (await c.stats()).totals;
  t.equal(totals.keys, await c.dbsize(), 'old owners freed the moved keys (no copy counted twice)');
  t.equal(await c.dbsize(), 20_001 + [...l.acked.values()].filter((v) => v !== null).length);
  t.same(events, [
    'join node-4',
    'epoch 4',
    'migration start add 4',
    'migration done add 4',
    'epoch 5',
    'migration start remove 2',
    'migration done remove 2',
    'leave node-2',
  ]);
});

t.test('membership errors', async (t) => {
  const c = await startCluster(t, { shards: 2, maxShards: 2 });
  await t.rejects(c.addShard(), { code: 'LIMIT', message: /already has 2 shards \(options.maxShards\)/ });
  await t.rejects(c.removeShard(9), { code: 'NOT_FOUND', message: 'no shard 9 in the cluster' });
  await t.rejects(c.removeShard('1' as never), { code: 'EINVAL' });
  await c.removeShard(1);
  await t.rejects(c.removeShard(2), { code: 'LIMIT', message: 'the last shard cannot be removed' });
  t.equal(c.epoch, 3, 'failed changes do not move the epoch');
  const closing = c.close();
  await t.rejects(c.addShard(), { code: 'CLOSED' });
  await t.rejects(c.removeShard(2), { code: 'CLOSED' });
  await closing;
});

t.test('a source shard crashing in the middle of a migration (one copy): only its keys are lost', async (t) => {
  const c = await startCluster(t, { shards: 3, faultInjection: true });
  await preload(c, 20_000);
  const ownerBefore = new Map<string, string>();
  for (let i = 0; i < 20_000; i++) ownerBefore.set(`p${i}`, c.ownerOf(`p${i}`));
  c.once('migration', () => c.injectFault(1, 'exit'));
  const crashed = new Promise<number>((resolve) => c.on('crash', (e) => resolve(e.shardId)));
  await c.addShard();
  t.equal(await crashed, 1);
  await c.whenReady();
  const values = await c.mget(Array.from({ length: 20_000 }, (_, i) => `p${i}`));
  let lostElsewhere = 0;
  let lostOnNode1 = 0;
  values.forEach((v, i) => {
    if (v === `v${i}`) return;
    if (ownerBefore.get(`p${i}`) === 'node-1') lostOnNode1++;
    else lostElsewhere++;
  });
  t.equal(lostElsewhere, 0, 'keys of the other shards all survive');
  t.ok(lostOnNode1 > 0, `node-1's keys went with it (${lostOnNode1})`);
  await c.set('after', 'ok');
  t.equal(await c.get('after'), 'ok', 'the cluster serves on');
});

t.test('a destination crashing in the middle of a migration loses nothing it was being sent', async (t) => {
  const c = await startCluster(t, { shards: 2, faultInjection: true });
  await preload(c, 20_000);
  // The new shard dies as soon as the move starts: ranges not yet confirmed are sent again to its replacement.
  c.once('migration', (e) => c.injectFault(e.shardId, 'exit'));
  await c.addShard();
  const values = await c.mget(Array.from({ length: 20_000 }, (_, i) => `p${i}`));
  t.equal(values.filter((v, i) => v !== `v${i}`).length, 0, 'every key readable after the move');
});
