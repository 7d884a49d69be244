// Walks in bounded steps (workers/walks.ts, BatchRun) and the shard's message loop
// (workers/runner.ts): same answers as in one go, later messages wait in order, pings do not.
import { MessageChannel } from 'node:worker_threads';
import t from 'tap';
import { KeyPacker, type KeyList, unpackKeys } from '../src/key-list.js';
import { fingerprint32 } from '../src/hash.js';
import { groupTables } from '../src/migration.js';
import { Op, type FromShard, type GroupTable, type ToShard } from '../src/protocol.js';
import { HashRing } from '../src/ring.js';
import { valueRef } from '../src/value-bytes.js';
import { BatchRun, Shard, executeBatch } from '../workers/execute.js';
import { ShardRunner } from '../workers/runner.js';
import { ShardStore } from '../workers/store.js';
import { WALK_STEP, keysWalk, randomKeyWalk, runToEnd, scanWalk } from '../workers/walks.js';

const KEYS = 3 * WALK_STEP + 123;

function filled(n = KEYS, options = {}): ShardStore {
  const s = new ShardStore(options);
  for (let i = 0; i < n; i++) s.setPlain(i === 7 ? 'a'.repeat(40) : `key:${i}`, `v${i}`);
  return s;
}

/** Steps a walk by hand, counting its yields. */
function stepped<T>(walk: Generator<void, T, void>): { value: T; yields: number } {
  let yields = 0;
  for (;;) {
    const r = walk.next();
    if (r.done) return { value: r.value, yields };
    yields++;
  }
}

t.test('packed key lists round-trip', async (t) => {
  const p = new KeyPacker();
  p.add(['', 'a', 'bé', '']);
  p.add([]);
  p.add(['', 'x'.repeat(3000), '\u{1F600}k']);
  p.add(['', '']);
  t.same(unpackKeys(p.done()), ['', 'a', 'bé', '', '', 'x'.repeat(3000), '\u{1F600}k', '', '']);
  t.same(unpackKeys(new KeyPacker().done()), []);
  t.same(unpackKeys(['a', 'b'], ['z']), ['z', 'a', 'b'], 'an array appends as it is');
});

t.test('KEYS walks in steps and answers as in one go', async (t) => {
  const s = filled();
  for (const pattern of ['*', 'key:1*', '*a*a*a*a*a*a*a*a*a*a*a*a*b', '*a*a*a*a*a*a*a*a*a*a*a*a*a']) {
    const { value, yields } = stepped(keysWalk(s, pattern));
    t.ok(yields >= 4, `${pattern}: ${yields} steps`);
    t.same(unpackKeys(value), s.keys(pattern), pattern);
  }
  t.same(unpackKeys(runToEnd(keysWalk(s, '*a*a*a*a*a*a*a*a*a*a*a*a*b'))), [], 'the pathological pattern finds nothing');
});

t.test('SCAN with a big COUNT walks in steps and answers as store.scan', async (t) => {
  const s = filled();
  for (let i = 0; i < KEYS; i += 3) s.del([`key:${i}`]);
  for (const [cursor, pattern, count] of [
    [0, null, 1_000_000],
    [0, 'key:2*', 1_000_000],
    [5000, '*a*a*a*a*a*a*a*a*a*a*a*a*b', 1_000_000],
    [0, null, 700],
    [100, '*5', 2000],
  ] as const) {
    const { value, yields } = stepped(scanWalk(s, cursor, pattern, count));
    const [next, keys] = s.scan(cursor, pattern, count);
    t.equal(value[0], next, `cursor ${cursor} ${pattern} ${count}: next`);
    t.same(unpackKeys(value[1]), keys, `cursor ${cursor} ${pattern} ${count}: keys (${yields} steps)`);
  }
  // The whole keyspace through big-COUNT calls: every live key once.
  const seen: string[] = [];
  let cursor = 0;
  do {
    const [next, list] = runToEnd(scanWalk(s, cursor, null, 5000));
    unpackKeys(list, seen);
    cursor = next;
  } while (cursor !== 0);
  t.same(seen.sort(), s.keys('*').sort());
});

t.test('RANDOMKEY on a sparse table walks in steps', async (t) => {
  const s = filled();
  const all = s.keys('*');
  s.del(all.filter((k) => k !== 'key:9000'));
  t.equal(s.size, 1);
  // Random slots near the end: the probes miss, the walk starts past the key and wraps around.
  const random = Math.random;
  Math.random = () => 0.99;
  let walked: { value: string | null; yields: number };
  try {
    walked = stepped(randomKeyWalk(s));
  } finally {
    Math.random = random;
  }
  t.equal(walked.value, 'key:9000');
  t.ok(walked.yields >= 2, `${walked.yields} steps`);
  s.del(['key:9000']);
  t.equal(runToEnd(randomKeyWalk(s)), null, 'null when empty');
  const k = executeBatch(new Shard(filled(100)), [Op.RANDOMKEY, '', undefined]).results[0];
  t.match(k, /^(key:\d+|a{40})$/, 'a small shard answers at once');
});

t.test('a batch stops inside a walk at its deadline and goes on in order', async (t) => {
  const s = filled();
  const shard = new Shard(s);
  const run = new BatchRun(shard, [Op.SET, 'before', 'x', Op.KEYS, 'b*', undefined, Op.SET, 'bafter', 'y', Op.GET, 'bafter', undefined]);
  t.equal(run.run(0), false, 'a past deadline: stops after the first step');
  t.ok(run.walking);
  t.equal(s.get('before'), 'x', 'the op before the walk applied');
  t.equal(s.get('bafter'), null, 'the op after it did not');
  let calls = 1;
  while (!run.run(0)) calls++;
  t.ok(calls >= 4, `${calls} calls`);
  const { results, errors } = run.outcome();
  t.equal(errors, undefined);
  t.same(unpackKeys(results[1] as KeyList), ['before'], 'the walk saw the keyspace as of its start');
  t.same([results[0], results[2], results[3]], [true, true, 'y']);
});

t.test('migration walks: plan, range export and drop in steps', async (t) => {
  const s = filled();
  const shard = new Shard(s);
  const sync = new Shard(filled());
  const all = [0, 0xffffffff];
  const run = new BatchRun(shard, [Op.MIG_PLAN, '', all]);
  let calls = 1;
  while (!run.run(0)) calls++;
  t.ok(calls > 3, `plan: ${calls} calls`);
  t.same(run.outcome().results[0], executeBatch(sync, [Op.MIG_PLAN, '', all]).results[0]);
  const lo = 0;
  const hi = 0x7fffffff;
  const exported = new BatchRun(shard, [Op.MIG_EXPORT_RANGE, '', [lo, hi]]);
  while (!exported.run(0));
  const want = executeBatch(sync, [Op.MIG_EXPORT_RANGE, '', [lo, hi]]).results[0] as ArrayBuffer;
  t.same(Buffer.from(exported.outcome().results[0] as ArrayBuffer), Buffer.from(want));
  const dropped = new BatchRun(shard, [Op.MIG_DROP_RANGE, '', [lo, hi], Op.DBSIZE, '', undefined]);
  while (!dropped.run(0));
  const [n, left] = dropped.outcome().results as [number, number];
  t.ok(n > KEYS / 4 && n < (KEYS * 3) / 4, `${n} keys dropped`);
  t.equal(left, KEYS - n);
});

/** A runner whose slices run only when the test says. */
function manualRunner(store: ShardStore): { runner: ShardRunner; sent: FromShard[]; slices: (() => void)[]; drain(): number } {
  const sent: FromShard[] = [];
  const slices: (() => void)[] = [];
  const runner = new ShardRunner(new Shard(store), { send: (m) => sent.push(m), epoch: 1, sliceMs: 0, schedule: (f) => slices.push(f) });
  const drain = (): number => {
    let n = 0;
    for (let f = slices.shift(); f !== undefined; f = slices.shift()) {
      f();
      n++;
    }
    return n;
  };
  return { runner, sent, slices, drain };
}

const batch = (id: number, ops: unknown[], epoch = 1): ToShard => ({ t: 'batch', id, epoch, ops });

t.test('runner: messages behind a walk wait in order, pings do not', async (t) => {
  const s = filled();
  const { runner, sent, slices, drain } = manualRunner(s);
  runner.receive(batch(1, [Op.KEYS, 'new*', undefined]));
  t.ok(runner.walking, 'the walk stopped after its first slice');
  t.equal(slices.length, 1, 'and scheduled the next');
  runner.receive(batch(2, [Op.SET, 'newkey', 'v']));
  runner.receive({ t: 'epoch', epoch: 2 });
  runner.receive(batch(3, [Op.SET, 'stale', 'v']));
  runner.receive(batch(4, [Op.KEYS, 'new*', undefined, Op.GET, 'newkey', undefined], 2));
  runner.receive({ t: 'ping', id: 9 });
  t.same(sent, [{ t: 'pong', id: 9, keys: KEYS }], 'the ping is answered at once, alone');
  t.equal(runner.queued, 4);
  t.equal(s.get('newkey'), null, 'nothing behind the walk ran');
  const n = drain();
  t.ok(n >= 3, `${n} more slices`);
  t.equal(runner.walking, false);
  const replies = sent.slice(1) as Extract<FromShard, { t: 'reply' | 'wrong-epoch' }>[];
  t.same(
    replies.map((r) => [r.t, r.id]),
    [
      ['reply', 1],
      ['reply', 2],
      ['wrong-epoch', 3],
      ['reply', 4],
    ],
    'answers in arrival order; the epoch change applied between',
  );
  const r1 = replies[0] as Extract<FromShard, { t: 'reply' }>;
  const r4 = replies[3] as Extract<FromShard, { t: 'reply' }>;
  t.same(unpackKeys(r1.results[0] as KeyList), [], 'the first KEYS ran before the SET behind it');
  t.same(unpackKeys(r4.results[0] as KeyList), ['newkey'], 'the last KEYS after it');
  t.equal(r4.results[1], 'v');
  t.equal(r4.keys, KEYS + 1);
  runner.receive(batch(5, [Op.GET, 'newkey', undefined], 2));
  t.same((sent.at(-1) as Extract<FromShard, { t: 'reply' }>).results, ['v'], 'an idle runner answers at once');
  t.equal(slices.length, 0);
});

t.test('runner: the expiry sweep waits while a walk is in progress', async (t) => {
  let now = 1_000;
  const s = filled(KEYS, { now: () => now });
  s.set('ttl', 'v', 0, 2_000);
  s.changes = new Set();
  const { runner, sent, drain } = manualRunner(s);
  runner.receive(batch(1, [Op.KEYS, '*', undefined]));
  t.ok(runner.walking);
  now = 3_000;
  runner.tick();
  t.equal(s.size, KEYS + 1, 'no sweep inside the walk');
  t.equal(sent.length, 0);
  drain();
  const reply = sent[0] as Extract<FromShard, { t: 'reply' }>;
  t.equal(unpackKeys(reply.results[0] as KeyList).length, KEYS + 1, 'the walk listed the key live at its start');
  runner.tick();
  t.equal(s.size, KEYS, 'swept once the walk is over');
  t.equal(sent.at(-1)?.t, 'effects', 'and reported to replication');
});

t.test('runner on a real port: a ping posted behind a walk is answered before it ends', async (t) => {
  const { port1, port2 } = new MessageChannel();
  t.teardown(() => {
    port1.close();
    port2.close();
  });
  const runner = new ShardRunner(new Shard(filled(8 * WALK_STEP)), {
    send: (m, transfer) => port2.postMessage(m, transfer ?? []),
    epoch: 1,
    sliceMs: 0,
  });
  port2.on('message', (m: ToShard) => runner.receive(m));
  const order: string[] = [];
  const done = new Promise<void>((resolve) => {
    port1.on('message', (m: FromShard) => {
      order.push(m.t);
      if (m.t === 'reply') resolve();
    });
  });
  port1.postMessage(batch(1, [Op.KEYS, '*a*a*a*a*a*a*a*a*a*a*a*a*b', undefined]));
  port1.postMessage({ t: 'ping', id: 1 } satisfies ToShard);
  await done;
  t.same(order, ['pong', 'reply']);
});

t.test('runner: replies carry errors, value bytes and effects; a refused batch gives its bytes back', async (t) => {
  const s = filled(10);
  const { runner, sent, drain } = manualRunner(s);
  runner.receive({ t: 'replicate' });
  t.not(s.changes, null, 'replication recording on');
  const bytes = new Uint8Array(Buffer.from('xyhello')).buffer;
  runner.receive({
    t: 'batch',
    id: 1,
    epoch: 1,
    ops: [Op.SET_BYTES, 'h', valueRef(2, 5), Op.INCRBY, 'h', 1, Op.GET_BYTES, 'h', undefined],
    bytes,
    base: 0,
  });
  const reply = sent[0] as Extract<FromShard, { t: 'reply' }>;
  t.equal(reply.results[0], true);
  t.equal(reply.errors?.[0], 1, 'INCRBY on text fails alone');
  t.ok(reply.bytes instanceof ArrayBuffer, 'GET_BYTES values travel as bytes');
  t.ok(reply.effects instanceof ArrayBuffer, 'the SET is reported to replication');
  const stale = new Uint8Array([1, 2, 3]).buffer;
  runner.receive({ t: 'batch', id: 2, epoch: 0, ops: [Op.SET_BYTES, 'z', valueRef(0, 3)], bytes: stale, base: 0 });
  t.same(sent[1], { t: 'wrong-epoch', id: 2, epoch: 1, bytes: stale });
  t.equal(drain(), 0, 'nothing was left for later');
});

t.test('runner: a new table of replica sets is counted in steps; pings meanwhile carry no half counts', async (t) => {
  const ring = new HashRing({ virtualNodes: 16, hash: fingerprint32 });
  for (let id = 1; id <= 3; id++) ring.add(id, `node-${id}`);
  const table = groupTables(ring, 2).get(1)!;
  const groups: GroupTable = { version: 1, los: table.los, groups: table.groups, size: table.sets.length };
  const s = filled(4 * WALK_STEP);
  const { runner, sent, drain } = manualRunner(s);
  runner.receive({ t: 'groups', table: groups });
  t.ok(runner.walking, 'the recount stopped after its first slice');
  runner.receive(batch(1, [Op.SET, 'after', 'v']));
  runner.receive({ t: 'ping', id: 5 });
  t.same(sent, [{ t: 'pong', id: 5, keys: 4 * WALK_STEP }], 'no counts while recounting');
  t.equal(s.get('after'), null, 'the batch behind it waits');
  t.ok(drain() >= 3, 'more slices');
  const reply = sent[1] as Extract<FromShard, { t: 'reply' }>;
  const [version, ...counts] = reply.counts!;
  t.equal(version, 1);
  // Every key this shard holds whose replica set it is part of, counted once, the new key included.
  let want = 0;
  s.eachKey((hash) => {
    if (ring.preferenceList(hash, 2).includes(1)) want++;
  });
  t.equal(
    counts.reduce((a, b) => a + b, 0),
    want,
    `${want} keys counted in their sets`,
  );
});

t.test('walks: a long key against a long pattern is matched over many steps, not in one', async (t) => {
  const s = new ShardStore();
  s.setPlain('a'.repeat(60_000), 'x');
  s.setPlain(`${'a'.repeat(30_000)}b`, 'y');
  s.setPlain('short', 'z');
  // About 3 × 10^8 steps in all: 150 walk steps of MATCH_STEP, each ~10 ms.
  const pattern = `*${'?'.repeat(5000)}b`;
  const keys = stepped(keysWalk(s, pattern));
  t.same(unpackKeys(keys.value), [`${'a'.repeat(30_000)}b`]);
  t.ok(keys.yields > 20, `KEYS yielded ${keys.yields} times`);
  const scan = stepped(scanWalk(s, 0, pattern, 10));
  t.same([scan.value[0], unpackKeys(scan.value[1])], [0, [`${'a'.repeat(30_000)}b`]], 'SCAN: the same key, the end');
  t.ok(scan.yields > 20, `SCAN yielded ${scan.yields} times`);
});

t.test('patterns are bounded: longer than 64 KiB is an EINVAL, not a stalled shard', async (t) => {
  const { createCluster } = await import('../src/index.js');
  const c = await createCluster({ shards: 1 });
  t.teardown(() => c.destroy());
  const long = `*${'[]'.repeat(40_000)}`;
  await t.rejects(c.keys(long), { code: 'EINVAL', message: /pattern is longer than 65536 characters/ });
  await t.rejects(c.scan(0, { match: long }), { code: 'EINVAL', message: /options\.match is longer than 65536/ });
  t.same(await c.keys(`*${'?'.repeat(60_000)}`), [], 'up to the bound it runs');
});
