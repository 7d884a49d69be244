// A cache handle attached in another thread: reads in that thread from shared memory, writes
// through the coordinator, read-your-writes, bad handles, close, a move under way, piscina tasks.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import t from 'tap';
import { attach, type Cluster } from '../src/index.js';
import { startCluster, type Teardown } from './helpers/cluster.js';

const fixture = new URL('./fixtures/attached.js', import.meta.url);

interface Outcome {
  id: number;
  ok?: unknown;
  code?: string;
}

/** A worker thread with `cluster`'s handle attached; `run` sends it calls and gets their outcomes. */
async function attachedThread(t: Teardown, cluster: Cluster) {
  const h = cluster.handle();
  const w = new Worker(fixture, { workerData: { h }, transferList: h.transfer });
  t.teardown(() => w.terminate());
  const [hello] = (await once(w, 'message')) as [{ attached: boolean; code?: string }];
  let id = 0;
  const run = async (...calls: [string, ...unknown[]][]): Promise<{ results: Outcome[]; localReads: number }> => {
    w.postMessage(calls.map(([method, ...args]) => ({ id: id++, method, args })));
    const [reply] = (await once(w, 'message')) as [{ results: Outcome[]; localReads: number }];
    return reply;
  };
  return { hello, run };
}

const oks = (r: { results: Outcome[] }): unknown[] => r.results.map((o) => (o.code !== undefined ? o.code : o.ok));

t.test('an attached thread reads in place, writes through the coordinator, reads its own writes', async (t) => {
  const c = await startCluster(t, { shards: 3 });
  await c.set('a', '1');
  await c.set('bytes', Buffer.from([0, 1, 255]));
  await c.set('ttl', 'x', { px: 60_000 });
  const { hello, run } = await attachedThread(t, c);
  t.same(hello, { attached: true });
  let r = await run(['get', 'a'], ['get', 'missing'], ['strlen', 'a'], ['getRange', 'a', 0, 0], ['pttl', 'a'], ['ttl', 'ttl']);
  const got = oks(r);
  t.same(got.slice(0, 5), ['1', null, 1, '1', -1]);
  t.ok((got[5] as number) > 0 && (got[5] as number) <= 60, `TTL in seconds (${got[5]})`);
  t.equal(r.localReads, 6, 'all six answered in that thread');
  r = await run(['get', 'bytes']);
  t.same(Buffer.from(r.results[0]!.ok as Uint8Array), Buffer.from([0, 1, 255]), 'bytes come back as bytes');
  // Issued in one turn: each read waits behind that thread's own write of its key.
  r = await run(['set', 'd', 'new'], ['get', 'd'], ['incr', 'n'], ['get', 'n'], ['del', 'a'], ['get', 'a']);
  t.same(oks(r), [true, 'new', 1, '1', 1, null], 'read-your-writes across writes in flight');
  t.equal(await c.get('d'), 'new', 'the write reached the cluster');
  await c.set('a', 'from main');
  r = await run(['get', 'a']);
  t.same(oks(r), ['from main'], 'a write the coordinator acknowledged is seen in place');
  r = await run(['get', 42], ['set', 'k', { not: 'a value' }], ['get', 'd']);
  t.same(oks(r), ['EINVAL', 'EINVAL', 'new'], 'bad input is refused with EINVAL and the thread goes on');
  await c.close();
  r = await run(['get', 'a'], ['set', 'a', 'x']);
  t.same(oks(r), ['CLOSED', 'CLOSED'], 'a closed cluster answers CLOSED in every attached thread');
});

t.test('bad handles are clear errors', async (t) => {
  const c = await startCluster(t, { shards: 1 });
  await t.rejects(attach({}), { code: 'EINVAL' });
  await t.rejects(attach(null), { code: 'EINVAL' });
  const h = c.handle();
  // What a handle becomes when it crosses a process boundary (JSON over IPC): no port, no memory.
  await t.rejects(attach(JSON.parse(JSON.stringify({ ...h, transfer: [] }))), { code: 'EINVAL', message: /process/ });
  await t.rejects(attach({ ...h, port: 'nope' }), { code: 'EINVAL', message: /port/ });
  h.port.close();
  await c.close();
  t.throws(() => c.handle(), { code: 'CLOSED' });
  const stale = { ...h };
  await t.rejects(attach(stale), { code: 'CLOSED' }, "a closed cluster's handle");
});

t.test('reads stay right while a shard is added (they go through the coordinator while ranges move)', async (t) => {
  const c = await startCluster(t, { shards: 2 });
  const keys = Array.from({ length: 2000 }, (_, i) => `m${i}`);
  await c.mset(keys.map((k) => [k, `v-${k}`] as const));
  const { run } = await attachedThread(t, c);
  const adding = c.addShard();
  const during = await run(...keys.slice(0, 500).map((k) => ['get', k] as [string, string]));
  await adding;
  // A round trip on the handle's port: the routing snapshot the move's end posted there comes first.
  await run(['dbsize']);
  const after = await run(...keys.map((k) => ['get', k] as [string, string]));
  t.same(
    oks(during),
    keys.slice(0, 500).map((k) => `v-${k}`),
    'every read during the move is right',
  );
  t.same(
    oks(after),
    keys.map((k) => `v-${k}`),
    'and after it',
  );
  t.ok(
    after.localReads - during.localReads >= 1900,
    `reads in place again after the move (${after.localReads - during.localReads} of 2000)`,
  );
});

t.test('piscina tasks attach, use and close handles', async (t) => {
  const c = await startCluster(t, { shards: 2 });
  await c.set('shared', 'hello');
  const pool = new Piscina({ filename: new URL('./fixtures/piscina-task.js', import.meta.url).href, maxThreads: 2 });
  t.teardown(() => pool.destroy());
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) => {
      const h = c.handle();
      return pool.run({ h, key: `task${i}` }, { transferList: h.transfer }) as Promise<{
        value: unknown;
        seen: unknown;
        localReads: number;
      }>;
    }),
  );
  results.forEach((r, i) => {
    t.equal(r.seen, 'hello', `task ${i} read the host's key`);
    t.equal(r.value, `from task${i}`, `task ${i} read its own write`);
    t.ok(r.localReads >= 1, `task ${i} read in place`);
  });
  for (let i = 0; i < 6; i++) t.equal(await c.get(`task${i}`), `from task${i}`);
});
