// Crashes and hangs of real shard workers: pending ops reject with SHARD_CRASHED (none hangs),
// the shard is replaced, events are emitted; a shard that dies at every boot is left down.
import { once } from 'node:events';
import t from 'tap';
import type { Cluster } from '../src/index.js';
import { startCluster } from './helpers/cluster.js';

/** `n` keys that the ring gives to `shard`. */
function keysOf(c: Cluster, shard: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (c.ownerOf(`k${i}`) === shard) out.push(`k${i}`);
  return out;
}

/** Settles every promise and tallies outcomes by error code ('ok' for success). */
async function outcomes(ps: Promise<unknown>[]): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (const r of await Promise.allSettled(ps)) {
    const k = r.status === 'fulfilled' ? 'ok' : String((r.reason as { code?: string }).code);
    tally[k] = (tally[k] ?? 0) + 1;
  }
  return tally;
}

for (const kind of ['exit', 'throw'] as const) {
  t.test(`a shard that dies (${kind}): pending ops reject SHARD_CRASHED, it is replaced`, async (t) => {
    const c = await startCluster(t, { shards: 3, faultInjection: true });
    const mine = keysOf(c, 'node-2', 200);
    const others = keysOf(c, 'node-1', 50);
    await Promise.all(mine.map((k) => c.set(k, 'before')));
    const crashed = once(c, 'crash');
    const rejoined = new Promise<unknown>((resolve) => c.on('join', (e) => e.restart && resolve(e)));
    c.injectFault(2, kind);
    // Posted after the fault on the same port: the worker is gone before it reads them. (Writes:
    // a GET now may be answered in place from the shard's memory, a read from before the crash.)
    const doomed = mine.map((k) => c.set(k, 'doomed'));
    const unaffected = others.map((k) => c.set(k, 'fine'));
    t.same(await outcomes(doomed), { SHARD_CRASHED: 200 }, 'every pending op on the dead shard rejects');
    t.same(await outcomes(unaffected), { ok: 50 }, 'other shards are not affected');
    const [event] = (await crashed) as [{ shardId: number; lost: number; restarting: boolean; reason: string }];
    t.match(event, { shardId: 2, name: 'node-2', lost: 200, restarting: true });
    t.match(event.reason, kind === 'exit' ? /exited with code 1/ : /error: fault injected in shard node-2/);
    t.match(await rejoined, { shardId: 2, restart: true });
    await c.whenReady();
    t.equal(await c.get(mine[0]!), null, 'the replacement starts empty (replicas come with R ≥ 2)');
    t.equal(await c.set(mine[0]!, 'after'), true, 'and serves');
    t.equal(await c.get(mine[0]!), 'after');
    t.match(c.shards()[1], { name: 'node-2', state: 'ready', crashes: 1 });
  });
}

t.test('a hung shard is found by the watchdog, terminated and replaced', async (t) => {
  const c = await startCluster(t, { shards: 2, faultInjection: true, watchdogIntervalMs: 20, watchdogTimeoutMs: 300 });
  const mine = keysOf(c, 'node-1', 20);
  const crashed = once(c, 'crash');
  c.injectFault(1, 'hang');
  const started = Date.now();
  t.same(await outcomes(mine.map((k) => c.set(k, 'v'))), { SHARD_CRASHED: 20 }, 'no op hangs');
  const [event] = (await crashed) as [{ reason: string }];
  t.match(event.reason, /no answer to the watchdog for 300 ms/);
  t.comment(`detected after ${Date.now() - started} ms`);
  await c.whenReady();
  t.equal(await c.set(mine[0]!, 'v'), true, 'the replacement serves');
});

t.test('a shard that dies at every boot is left down, not restarted in a loop', async (t) => {
  const c = await startCluster(t, { shards: 2, faultInjection: true, maxBootFailures: 2 });
  const mine = keysOf(c, 'node-2', 5);
  const crashes: { restarting: boolean }[] = [];
  const down = new Promise<void>((resolve) =>
    c.on('crash', (e) => {
      crashes.push(e);
      if (!e.restarting) resolve();
    }),
  );
  c.injectFault(2, 'boot-loop');
  await down;
  t.equal(crashes.length, 3, 'the crash, then two failed boots');
  t.match(c.shards()[1], { state: 'down' });
  await t.rejects(c.get(mine[0]!), { code: 'SHARD_UNAVAILABLE' });
  await t.rejects(c.whenReady(), { code: 'SHARD_UNAVAILABLE' });
  const st = await c.stats();
  t.notOk(st.shards[1]!.stats, 'a down shard reports no counters');
  t.equal(await c.set(keysOf(c, 'node-1', 1)[0]!, 'v'), true, 'the other shard serves');
  t.throws(() => c.injectFault(9, 'exit'), { code: 'EINVAL' });
});

t.test('fault injection is off by default', async (t) => {
  const c = await startCluster(t, { shards: 1 });
  t.throws(() => c.injectFault(1, 'exit'), { code: 'EINVAL', message: /fault injection is off/ });
});
