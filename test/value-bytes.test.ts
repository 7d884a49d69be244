// SET values that travel as bytes (Op.SET_BYTES): the refs, the value rule shared by every side,
// and a shard queue's byte arena under load — batches taken in pieces, the queue compacted while it
// never empties, values too big for the arena, an arena at its cap, a refused batch restored.
import t from 'tap';
import { sendSet, sendTo } from '../src/cluster.js';
import { Op } from '../src/protocol.js';
import type { Sink } from '../src/shard-handle.js';
import { MAX_REF_BYTES, packValues, refLength, refOffset, restoreValues, valueFromBytes, valueRef } from '../src/value-bytes.js';
import { startCluster } from './helpers/cluster.js';

/** A Sink as a promise. */
function sink(): Sink & { settled: Promise<unknown> } {
  let done!: (v: unknown) => void;
  let fail!: (e: unknown) => void;
  const settled = new Promise<unknown>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  return { done, fail, settled };
}

t.test('refs and the value rule', async (t) => {
  for (const [off, len] of [
    [0, 0],
    [1, MAX_REF_BYTES],
    [8 * 1024 * 1024, 100],
    [2 ** 30, 2 ** 17 - 1],
  ] as const) {
    const ref = valueRef(off, len);
    t.same([refOffset(ref), refLength(ref)], [off, len], `offset ${off}, length ${len}`);
  }
  const buf = Buffer.concat([Buffer.from('ab'), Buffer.from('é'), Buffer.from('y'.repeat(50)), Buffer.from([0x80])]);
  t.equal(valueFromBytes(buf, 0, 2), 'ab', 'ASCII: a string');
  t.same(valueFromBytes(buf, 2, 4), new Uint8Array(Buffer.from('é')), 'UTF-8 text is bytes (it has no one string form)');
  t.equal(valueFromBytes(buf, 4, 54), 'y'.repeat(50), 'a long ASCII run (checked natively)');
  t.same(valueFromBytes(buf, 4, 55), new Uint8Array([...Buffer.from('y'.repeat(50)), 0x80]), 'a long run with one high byte');
  const copy = valueFromBytes(buf, 54, 55) as Uint8Array;
  buf[54] = 0;
  t.same(copy, new Uint8Array([0x80]), 'bytes are copied, not viewed');

  const ops: unknown[] = [Op.GET, 'g', undefined, Op.SET_BYTES, 'a', valueRef(10, 2), Op.SET_BYTES, 'b', valueRef(12, 1)];
  restoreValues(ops, new Uint8Array([0x68, 0x69, 0xff]).buffer, 10);
  t.same(ops, [Op.GET, 'g', undefined, Op.SET, 'a', 'hi', Op.SET, 'b', new Uint8Array([0xff])], 'a refused batch gets its values back');
});

t.test('GET_BYTES values are packed into one buffer the results point into', async (t) => {
  const big = 'z'.repeat(MAX_REF_BYTES + 1);
  // biome-ignore format: one op (code, key, arg) per line
  const ops = [
    Op.GET_BYTES, 'a', undefined,
    Op.GET, 'b', undefined,
    Op.GET_BYTES, 'c', undefined,
    Op.GET_BYTES, 'd', undefined,
    Op.GET_BYTES, 'e', undefined,
    Op.INCRBY, 'f', 1,
  ];
  const results: unknown[] = ['ascii', 'plain GET', 'ключ ✓', new Uint8Array([0, 0xff]), null, 7];
  const bytes = packValues(ops, results)!;
  const buf = Buffer.from(bytes);
  const at = (ref: unknown): string =>
    buf.toString('latin1', refOffset(ref as number), refOffset(ref as number) + refLength(ref as number));
  t.equal(at(results[0]), 'ascii');
  t.equal(results[1], 'plain GET', 'other ops untouched');
  t.equal(Buffer.from(at(results[2]), 'latin1').toString('utf8'), 'ключ ✓', 'text as UTF-8');
  t.equal(at(results[3]), '\x00\xff', 'bytes as they are');
  t.equal(results[4], null, 'missing stays null');
  t.equal(results[5], 7);
  t.equal(buf.length, 5 + Buffer.byteLength('ключ ✓') + 2);
  const alone = [big];
  t.equal(packValues([Op.GET_BYTES, 'x', undefined], alone), undefined, 'nothing small enough to pack');
  t.equal(alone[0], big, 'a value past the limit stays a value');

  // Through a cluster, to a receiver without doneBytes: a view of the reply's bytes.
  const c = await startCluster(t, { shards: 2 });
  await c.set('k', 'value');
  await c.set('bin', Buffer.from([1, 2, 3]));
  await c.set('huge', big);
  const got = await Promise.all(
    ['k', 'bin', 'huge', 'nope'].map((k) => {
      const s = sink();
      sendTo(c, Op.GET_BYTES, k, undefined, s);
      return s.settled;
    }),
  );
  t.same(
    got.map((v) => (v === null ? null : Buffer.from(v as string | Buffer).length)),
    [5, 3, MAX_REF_BYTES + 1, null],
  );
  t.equal((got[0] as Buffer).toString(), 'value');
  t.same(got[1], Buffer.from([1, 2, 3]));
});

t.test('a queue that never empties is compacted, and its arena with it', async (t) => {
  // Small batches, so thousands of queued SETs leave the queue in many pieces.
  const c = await startCluster(t, { shards: 1, maxBatchOps: 16, maxBatchesInFlight: 2 });
  const source = Buffer.from(Array.from({ length: 5000 }, (_, i) => `value-${String(i).padStart(6, '0')}`).join(''));
  const width = 'value-000000'.length;
  const sinks = Array.from({ length: 5000 }, (_, i) => {
    const s = sink();
    sendSet(c, `k${i}`, source, i * width, (i + 1) * width, s);
    return s.settled;
  });
  t.same(new Set(await Promise.all(sinks)), new Set([true]), 'every SET applied');
  const values = await c.mget(Array.from({ length: 5000 }, (_, i) => `k${i}`));
  const wrong = values.filter((v, i) => v !== `value-${String(i).padStart(6, '0')}`);
  t.equal(wrong.length, 0, 'every value intact');
});

t.test('values too big for the arena, and an arena at its cap, travel as values', async (t) => {
  const c = await startCluster(t, { shards: 1 });
  const big = Buffer.alloc(MAX_REF_BYTES + 1, 'b');
  const mid = Buffer.alloc(MAX_REF_BYTES, 'm');
  const out = [sink(), ...Array.from({ length: 200 }, () => sink())];
  sendSet(c, 'big', big, 0, big.length, out[0]!);
  // 200 × 64 KB queued at once: 12.8 MB, more than the 8 MB arena.
  for (let i = 0; i < 200; i++) sendSet(c, `m${i}`, mid, 0, mid.length, out[i + 1]!);
  await Promise.all(out.map((s) => s.settled));
  t.equal(((await c.get('big')) as string).length, big.length);
  const lengths = await c.mget(Array.from({ length: 200 }, (_, i) => `m${i}`));
  t.same(new Set(lengths.map((v) => (v as string).length)), new Set([MAX_REF_BYTES]), 'all 200 stored whole');
  // Then the arena serves small values again.
  const again = sink();
  sendSet(c, 'small', Buffer.from('tiny'), 0, 4, again);
  t.equal(await again.settled, true);
  t.equal(await c.get('small'), 'tiny');
});

t.test('a closed cluster fails the sink', async (t) => {
  const c = await startCluster(t, { shards: 1 });
  await c.close();
  const s = sink();
  sendSet(c, 'k', Buffer.from('v'), 0, 1, s);
  await t.rejects(s.settled, { code: 'CLOSED' });
});
