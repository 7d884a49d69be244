// Crash reports that tell the truth: when every copy of some keys dies, the crash events count
// exactly those keys, the refill says 'incomplete' (not 'whole'), and the cluster, its log and
// /healthz say the data set is incomplete until a FLUSHALL.
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { fingerprint32 } from '../src/hash.js';
import type { Cluster, ClusterEvents } from '../src/index.js';
import { groupTables, setKey } from '../src/migration.js';
import { HashRing } from '../src/ring.js';
import { logCluster } from '../src/server/log.js';
import { GroupCounts } from '../workers/group-counts.js';
import { missing, preload, serveRest, startCluster } from './helpers/cluster.js';

type Refilled = { kind: 'whole' | 'incomplete'; shardId: number; keysLost: number };

/** Records crash and refill events. */
function record(c: Cluster) {
  const crashes: ClusterEvents['crash'][0][] = [];
  const refills: Refilled[] = [];
  c.on('crash', (e) => crashes.push(e));
  c.on('whole', (e) => refills.push({ kind: 'whole', shardId: e.shardId, keysLost: 0 }));
  c.on('incomplete', (e) => refills.push({ kind: 'incomplete', shardId: e.shardId, keysLost: e.keysLost }));
  /** Resolves once every shard of `ids` has reported its refill (whole or incomplete). */
  const refilled = (ids: number[]): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (ids.every((id) => refills.some((r) => r.shardId === id))) resolve();
      };
      c.on('whole', check);
      c.on('incomplete', check);
      check();
    });
  return { crashes, refills, refilled };
}

t.test('group tables: a shard counts each key hash in its replica set, and no hash it holds no copy of', async (t) => {
  const ring = new HashRing({ virtualNodes: 64, hash: fingerprint32 });
  for (let id = 1; id <= 5; id++) ring.add(id, `node-${id}`);
  const tables = groupTables(ring, 3);
  let state = 7;
  const hashes = Array.from({ length: 2000 }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  });
  hashes.push(0, 0xffffffff, ...ring.points().slice(0, 20));
  for (const [id, table] of tables) {
    const wrong: number[] = [];
    let copies = 0;
    for (const hash of hashes) {
      const counts = new GroupCounts({ version: 1, los: table.los, groups: table.groups, size: table.sets.length });
      counts.add(hash);
      const [, ...perSet] = counts.take()!;
      const members = ring.preferenceList(hash, 3);
      const counted = perSet.indexOf(1);
      if (members.includes(id)) copies++;
      if (members.includes(id) ? table.sets[counted] !== setKey(members) : counted !== -1) wrong.push(hash);
    }
    t.same(wrong, [], `node-${id}: ${copies} of ${hashes.length} hashes counted in their set, the rest in none`);
  }
});

t.test('R = 2, two shards killed at once: keysLost counts exactly the keys gone; refills say incomplete', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2, faultInjection: true });
  await preload(c);
  const { crashes, refills, refilled } = record(c);
  c.injectFault(1, 'exit');
  c.injectFault(2, 'exit');
  await refilled([1, 2]);
  const gone = await missing(c);
  t.ok(gone > 0, `${gone} keys had both copies on the two shards`);
  t.equal(crashes.length, 2);
  t.equal(
    crashes.reduce((a, e) => a + e.keysLost, 0),
    gone,
    'the crash events add up to the keys that are gone',
  );
  t.same(
    refills.map((r) => r.kind),
    ['incomplete', 'incomplete'],
    'neither replacement claims to be whole',
  );
  t.ok(
    refills.every((r) => r.keysLost === gone),
    'each names the keys its ranges lost',
  );
  t.match(c.dataLoss, { keysLost: gone, crashes: 1 });
  t.match((await c.stats()).dataLoss, { keysLost: gone });

  // What is left is whole again: a later single crash loses nothing and its refill is whole.
  const whole = once(c, 'whole');
  c.injectFault(3, 'exit');
  const [w] = (await whole) as [{ shardId: number }];
  t.equal(w.shardId, 3);
  t.equal(crashes[2]!.keysLost, 0, 'one crash with R = 2 loses nothing');
  t.equal(await missing(c), gone, 'and nothing more is gone');

  await c.flushall();
  t.equal(c.dataLoss, null, 'FLUSHALL: nothing is missing from an empty data set');
  t.equal((await c.stats()).dataLoss, undefined);
});

t.test('R = 2, a copy dies while the other waits for a refill that cannot come: its keys are counted', async (t) => {
  const c = await startCluster(t, { shards: 3, replicas: 2, faultInjection: true, maxBootFailures: 2 });
  await preload(c);
  const { crashes, refills, refilled } = record(c);
  // node-1 dies at every restart and is left down: its copies are gone for good.
  const down = new Promise<void>((resolve) => c.on('crash', (e) => e.shardId === 1 && !e.restarting && resolve()));
  c.injectFault(1, 'boot-loop');
  await down;
  t.ok(
    crashes.every((e) => e.keysLost === 0),
    'node-1 alone loses nothing: node-2 and node-3 hold the other copies',
  );
  t.equal(await missing(c), 0);
  c.injectFault(2, 'exit');
  await refilled([2]);
  const gone = await missing(c);
  t.ok(gone > 0, `${gone} keys lived only on node-1 and node-2`);
  t.equal(crashes.at(-1)!.keysLost, gone, 'node-2’s crash reports them');
  t.match(refills, [{ kind: 'incomplete', shardId: 2, keysLost: gone }]);
  t.match(c.dataLoss, { keysLost: gone });
});

t.test('R = 1: the crash sets dataLoss; /healthz and the log report the data set incomplete', async (t) => {
  const c = await startCluster(t, { shards: 2, faultInjection: true });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  logCluster(c, pino({ level: 'info' }, sink));
  const base = await serveRest(t, c);
  await preload(c);
  let res = await fetch(`${base}/healthz`);
  t.equal(res.status, 200);
  t.match(await res.json(), { status: 'ok', data: 'complete' });
  const held = (await c.stats()).shards[0]!.stats!.keys;
  const crash = once(c, 'crash');
  c.injectFault(1, 'exit');
  await crash;
  await c.whenReady();
  t.equal(await missing(c), held);
  t.match(c.dataLoss, { keysLost: held, crashes: 1 });
  res = await fetch(`${base}/healthz`);
  t.equal(res.status, 200, 'every shard serves');
  t.match(await res.json(), { status: 'degraded', data: 'incomplete', keysLost: held });
  t.match(
    lines.find((l) => l.event === 'crash'),
    { level: 50, keysLost: held, msg: new RegExp(`${held} keys lost with every copy`) },
  );
  await c.flushall();
  res = await fetch(`${base}/healthz`);
  t.match(await res.json(), { status: 'ok', data: 'complete' });
});
