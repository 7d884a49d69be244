// One batch of flat ops applied to a store: results in order, per-op errors as wire data.
import t from 'tap';
import { Op, SetFlag } from '../src/protocol.js';
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
