// The migration driver with scripted shards: states, held ops released in order after the new
// owner confirms, drop only after confirm, a dead source, a dead destination retried.
import t from 'tap';
import { CacheError } from '../src/errors.js';
import { fingerprint32 } from '../src/hash.js';
import { Migration, movingRanges, type MigrationHost } from '../src/migration.js';
import { Op } from '../src/protocol.js';
import { HashRing } from '../src/ring.js';
import type { ShardHandle } from '../src/shard-handle.js';
import { decodeEntries, encodeEntries } from '../workers/entries.js';

const oneEntry = (value: string): ArrayBuffer => encodeEntries(['k', value, 0]);
const decoded = (buf: unknown): unknown[] => {
  const out: unknown[] = [];
  decodeEntries(buf as ArrayBuffer, (k, v, at) => out.push(k, v, at));
  return out;
};

function ring(ids: number[]): HashRing {
  const r = new HashRing({ virtualNodes: 16, hash: fingerprint32 });
  for (const id of ids) r.add(id, `node-${id}`);
  return r;
}

t.test('movingRanges: exactly the hashes whose owner changes', async (t) => {
  const before = ring([1, 2, 3]);
  const after = before.clone();
  after.add(4, 'node-4');
  const ranges = movingRanges(before, after, 1);
  t.ok(ranges.length > 0 && ranges.length <= 16, `${ranges.length} ranges (≤ the new shard's points)`);
  for (const r of ranges) {
    t.same(r.to, [4], 'every range moves to the new shard');
    t.equal(r.from.length, 1);
  }
  let x = 7;
  let wrong = 0;
  for (let i = 0; i < 100_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const moved = before.ownerOf(x) !== after.ownerOf(x);
    const inRange = ranges.some((r) => r.lo <= x && x <= r.hi);
    if (moved !== inRange) wrong++;
  }
  t.equal(wrong, 0, 'a hash is in a moving range exactly when its owner changed');
  t.same(movingRanges(before, before.clone(), 1), [], 'no change, no ranges');
});

interface Call {
  shard: number;
  op: number;
  arg: unknown;
  settle: (ok: boolean, value?: unknown) => void;
}

/** Fake shards: every send is recorded and settled by the test. */
function fakeHost(): { host: MigrationHost; calls: Call[]; next: (op: number) => Promise<Call> } {
  const calls: Call[] = [];
  const waiters: { op: number; resolve: (c: Call) => void }[] = [];
  const handle = (shard: number) =>
    ({
      send(op: number, _key: string, arg: unknown): Promise<unknown> {
        return new Promise((resolve, reject) => {
          const call: Call = {
            shard,
            op,
            arg,
            settle: (ok, value) => (ok ? resolve(value) : reject(new CacheError('SHARD_CRASHED', `shard ${shard} crashed`))),
          };
          calls.push(call);
          const w = waiters.findIndex((x) => x.op === op);
          if (w >= 0) waiters.splice(w, 1)[0]!.resolve(call);
        });
      },
    }) as unknown as ShardHandle;
  const next = (op: number): Promise<Call> => {
    const pending = calls.find((c) => c.op === op && !(c as { taken?: boolean }).taken);
    if (pending !== undefined) {
      (pending as { taken?: boolean }).taken = true;
      return Promise.resolve(pending);
    }
    return new Promise((resolve) =>
      waiters.push({
        op,
        resolve: (c) => {
          (c as { taken?: boolean }).taken = true;
          resolve(c);
        },
      }),
    );
  };
  return { host: { handle, usable: () => true, onProgress: () => undefined }, calls, next };
}

function oneRange(): Migration {
  return new Migration('add', 2, 5, [{ lo: 10, hi: 20, from: [1], to: [2], state: 'old', held: [], source: 1, planIdx: new Map() }]);
}

t.test('a range: old → moving (ops held) → new after import; drop after', async (t) => {
  const m = oneRange();
  const { host, calls, next } = fakeHost();
  const done = m.run(host, 1);
  const plans = [await next(Op.MIG_PLAN), await next(Op.MIG_PLAN)];
  t.same(
    plans.map((p) => p.shard),
    [1, 2],
    'the source and the destination plan the range',
  );
  for (const p of plans) p.settle(true, [3]);
  const exp = await next(Op.MIG_EXPORT);
  t.equal(exp.shard, 1, 'exported by the old owner');
  const r = m.find(15)!;
  t.equal(r.state, 'moving');
  t.equal(m.find(9), null, 'outside the range');
  t.equal(m.find(21), null);
  const order: string[] = [];
  r.held.push(
    () => order.push('first'),
    () => order.push('second'),
  );
  exp.settle(true, oneEntry('v'));
  const imp = await next(Op.MIG_REPLACE);
  t.equal(imp.shard, 2, 'imported by the new owner');
  const [planIdx, buf, first] = imp.arg as [number, ArrayBuffer, boolean];
  t.same([planIdx, first], [0, true], 'the first chunk replaces the range in its plan');
  t.same(decoded(buf), ['k', 'v', 0]);
  t.same(order, [], 'held until the new owner confirms');
  t.notOk(
    calls.some((c) => c.op === Op.MIG_DROP),
    'no drop before the confirm',
  );
  imp.settle(true, 1);
  (await next(Op.MIG_DROP)).settle(true, 0);
  t.same(order, ['first', 'second'], 'released in arrival order');
  t.equal(r.state, 'new');
  (await next(Op.MIG_END)).settle(true, true);
  (await next(Op.MIG_END)).settle(true, true);
  await done;
  t.match(m.status(), { rangesTotal: 1, rangesDone: 1, keysMoved: 1 });
});

t.test('a destination that dies during import: the range is exported again, nothing dropped before', async (t) => {
  const m = oneRange();
  const { host, calls, next } = fakeHost();
  const done = m.run(host, 1);
  (await next(Op.MIG_PLAN)).settle(true, [1]);
  (await next(Op.MIG_PLAN)).settle(true, [0]);
  (await next(Op.MIG_EXPORT)).settle(true, oneEntry('v1'));
  (await next(Op.MIG_REPLACE)).settle(false);
  t.notOk(
    calls.some((c) => c.op === Op.MIG_DROP),
    'the source keeps its copy',
  );
  (await next(Op.MIG_EXPORT)).settle(true, oneEntry('v1'));
  (await next(Op.MIG_REPLACE)).settle(true, 1);
  (await next(Op.MIG_DROP)).settle(true, 0);
  (await next(Op.MIG_END)).settle(true, true);
  (await next(Op.MIG_END)).settle(true, true);
  await done;
  t.equal(m.status().keysMoved, 1);
});

t.test('a source that dies: its ranges settle with nothing to move, held ops run', async (t) => {
  const m = oneRange();
  const { host, next } = fakeHost();
  const done = m.run(host, 1);
  (await next(Op.MIG_PLAN)).settle(true, [1]);
  (await next(Op.MIG_PLAN)).settle(true, [0]);
  const exp = await next(Op.MIG_EXPORT);
  let ran = false;
  m.find(12)!.held.push(() => (ran = true));
  exp.settle(false);
  (await next(Op.MIG_REPLACE)).settle(true, 0);
  (await next(Op.MIG_DROP_RANGE)).settle(true, 0);
  (await next(Op.MIG_END)).settle(true, true);
  (await next(Op.MIG_END)).settle(true, true);
  await done;
  t.ok(ran, 'held op released');
  t.equal(m.find(12)!.state, 'new');
  t.ok(m.sourcesLost.has(1));

  const m2 = oneRange();
  m2.sourceDied(1);
  t.equal(m2.find(12)!.state, 'new', 'a source that died before its turn: the range flips at once');
});
