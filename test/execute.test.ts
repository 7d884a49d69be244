// One batch of flat ops applied to a store: results in order, per-op errors as wire data.
import t from 'tap';
import { Op, SetFlag } from '../src/protocol.js';
import { valueRef } from '../src/value-bytes.js';
import { Shard, executeBatch } from '../workers/execute.js';
import { ShardStore } from '../workers/store.js';

t.test('a batch applies in order and reports failures per op', async (t) => {
  const s = new ShardStore();
  // biome-ignore format: one op (code, key, arg) per line
  const { results, errors } = executeBatch(new Shard(s), [
    Op.SET, 'a', 'x',
    Op.GET, 'a', undefined,
    Op.INCRBY, 'a', 1,
    Op.SET_EX, 'b', ['1', SetFlag.GET, 0],
    Op.SET_EX, 'b', ['2', SetFlag.NX, 0],
    Op.INCRBY, 'b', 5,
    Op.MSET, '', ['c', '3', 'd', '4'],
    Op.MGET, '', ['c', 'zz', 'd'],
    Op.EXISTS, '', ['c', 'd', 'zz'],
    Op.EXPIRE, 'c', [Date.now() + 10_000, 0],
    Op.PTTL, 'c', undefined,
    Op.PEXPIRETIME, 'zz', undefined,
    Op.PERSIST, 'c', undefined,
    Op.KEYS, '[cd]', undefined,
    Op.SCAN, '', [0, null, 100],
    Op.DEL, '', ['c'],
    Op.DBSIZE, '', undefined,
    99, 'x', undefined,
    Op.FLUSHALL, '', undefined,
    Op.STATS, '', undefined,
  ]);
  t.same(results.slice(0, 9), [true, 'x', null, null, false, 6, true, ['3', null, '4'], 2]);
  t.equal(results[9], true);
  t.ok((results[10] as number) > 9000);
  t.same(results.slice(11, 14), [-2, true, ['c', 'd']]);
  t.same((results[14] as [number, string[]])[1].sort(), ['a', 'b', 'c', 'd']);
  t.same(results.slice(15, 17), [1, 3]);
  // biome-ignore format: one error (index, wire error) per line
  t.same(errors, [
    2, { code: 'NOT_INTEGER', message: 'value is not an integer or out of range' },
    17, { code: 'INTERNAL', message: 'unknown op 99' },
  ]);
  t.equal(results[18], true);
  t.match(results[19], { keys: 0, ops: 20 });
});

t.test('SET_BYTES values come from the batch bytes: ASCII as strings, other bytes as bytes', async (t) => {
  const s = new ShardStore();
  const arena = Buffer.concat([Buffer.from('--ascii'), Buffer.from([0xff, 0x00, 0x80]), Buffer.from('x'.repeat(40))]);
  // The batch's bytes start at arena offset 2 (base): refs are arena offsets.
  const bytes = arena.buffer.slice(arena.byteOffset + 2, arena.byteOffset + arena.length);
  // biome-ignore format: one op (code, key, arg) per line
  const { results, errors } = executeBatch(new Shard(s), [
    Op.SET_BYTES, 'a', valueRef(2, 5),
    Op.SET_BYTES, 'b', valueRef(7, 3),
    Op.SET_BYTES, 'c', valueRef(10, 40),
    Op.SET_BYTES, 'd', valueRef(10, 0),
  ], bytes, 2);
  t.same(results, [true, true, true, true]);
  t.equal(errors, undefined);
  t.equal(s.get('a'), 'ascii');
  t.same(s.get('b'), new Uint8Array([0xff, 0x00, 0x80]));
  t.equal(s.get('c'), 'x'.repeat(40));
  t.equal(s.get('d'), '');
  const missing = executeBatch(new Shard(s), [Op.SET_BYTES, 'e', valueRef(0, 1)]);
  t.same(missing.errors, [0, { code: 'INTERNAL', message: 'SET_BYTES without the batch bytes' }]);
  t.equal(s.get('e'), null);
});
