// The shard store, imported directly with an injected clock: Redis semantics of every command,
// TTL expiry (lazy and swept), memory accounting, eviction, and more keys than one Map holds.
import t from 'tap';
import { ExpireFlag, SetFlag } from '../src/protocol.js';
import { ShardStore, entrySize, type StoreOptions } from '../workers/store.js';

function store(opts: StoreOptions = {}) {
  const clock = { now: 1_000_000 };
  const s = new ShardStore({ now: () => clock.now, ...opts });
  return { s, clock };
}

t.test('strings in → strings out, bytes in → bytes out', async (t) => {
  const { s } = store();
  s.setPlain('a', 'héllo');
  s.setPlain('b', new Uint8Array([0, 255, 10]));
  s.setPlain('', 'empty key');
  s.setPlain('e', '');
  t.equal(s.get('a'), 'héllo');
  t.same(s.get('b'), new Uint8Array([0, 255, 10]));
  t.ok(s.get('b') instanceof Uint8Array);
  t.equal(s.get(''), 'empty key', 'the empty key is a key');
  t.equal(s.get('e'), '', 'the empty value is a value');
  t.equal(s.get('missing'), null);
  t.equal(s.size, 4);
});

t.test('SET NX / XX / GET / KEEPTTL / expiry', async (t) => {
  const { s, clock } = store();
  t.same(s.set('k', 'v1', SetFlag.XX), { applied: false, old: null }, 'XX on a missing key does nothing');
  t.equal(s.get('k'), null);
  t.same(s.set('k', 'v1', SetFlag.NX), { applied: true, old: null }, 'NX on a missing key sets');
  t.same(s.set('k', 'v2', SetFlag.NX), { applied: false, old: null }, 'NX on an existing key does nothing');
  t.equal(s.get('k'), 'v1');
  t.same(s.set('k', 'v2', SetFlag.XX | SetFlag.GET), { applied: true, old: 'v1' }, 'XX GET returns the old value');
  t.same(s.set('k', 'v3', SetFlag.NX | SetFlag.GET), { applied: false, old: 'v2' }, 'NX GET on existing returns old, sets nothing');
  t.equal(s.get('k'), 'v2');

  s.set('k', 'v4', 0, clock.now + 5000);
  t.equal(s.pttl('k'), 5000, 'PX sets a TTL');
  s.set('k', 'v5', SetFlag.KEEPTTL);
  t.equal(s.pttl('k'), 5000, 'KEEPTTL keeps it');
  s.set('k', 'v6');
  t.equal(s.pttl('k'), -1, 'a plain SET clears it');
  s.set('k', 'v7', 0, clock.now + 10);
  s.setPlain('k', 'v8');
  t.equal(s.pttl('k'), -1, 'setPlain clears it');

  s.setPlain('gone', 'x');
  t.same(s.set('gone', 'y', SetFlag.GET, clock.now - 1), { applied: true, old: 'x' }, 'an expiry in the past');
  t.equal(s.get('gone'), null, '... leaves the key absent');
  s.set('never', 'y', 0, clock.now);
  t.equal(s.exists(['never']), 0, 'expiring exactly now is already expired');
});

t.test('DEL, EXISTS, MGET, MSET', async (t) => {
  const { s } = store();
  s.mset(['a', '1', 'b', '2', 'c', new Uint8Array([3])]);
  t.same(s.mget(['a', 'x', 'c']), ['1', null, new Uint8Array([3])]);
  t.equal(s.exists(['a', 'a', 'x']), 2, 'a key named twice counts twice');
  t.equal(s.del(['a', 'x', 'b', 'a']), 2, 'DEL counts keys that existed');
  t.equal(s.size, 1);
});

t.test('INCRBY with Redis errors', async (t) => {
  const { s, clock } = store();
  t.equal(s.incrBy('n', 1), 1, 'missing counts as 0');
  t.equal(s.incrBy('n', 41), 42);
  t.equal(s.incrBy('n', -50), -8);
  t.equal(s.get('n'), '-8', 'stored as its decimal string');
  s.setPlain('bytes', new Uint8Array(Buffer.from('10')));
  t.equal(s.incrBy('bytes', 5), 15, 'a byte value that spells an integer works');
  for (const bad of ['', ' 1', '1 ', '+1', '01', '1.5', 'abc', '-0x1', '99999999999999999999', '-']) {
    s.setPlain('bad', bad);
    t.throws(() => s.incrBy('bad', 1), { code: 'NOT_INTEGER', message: 'value is not an integer or out of range' }, `"${bad}"`);
    t.equal(s.get('bad'), bad, 'value unchanged after the error');
  }
  s.setPlain('max', '9223372036854775806');
  t.equal(s.incrBy('max', 1), '9223372036854775807', 'past 2^53 the result is a decimal string');
  t.throws(() => s.incrBy('max', 1), { code: 'OVERFLOW', message: 'increment or decrement would overflow' });
  t.equal(s.get('max'), '9223372036854775807');
  s.setPlain('min', '-9223372036854775808');
  t.throws(() => s.incrBy('min', -1), { code: 'OVERFLOW' });
  t.equal(s.incrBy('min', 1n), '-9223372036854775807', 'bigint deltas');
  s.setPlain('big', '9007199254740993');
  t.equal(s.incrBy('big', -10), 9007199254740983, 'back under 2^53 it is a number again');
  s.set('ttl', '5', 0, clock.now + 1000);
  s.incrBy('ttl', 1);
  t.equal(s.pttl('ttl'), 1000, 'INCR keeps the TTL');
});

t.test('EXPIRE NX/XX/GT/LT, PERSIST, TTL', async (t) => {
  const { s, clock } = store();
  t.equal(s.expire('missing', clock.now + 1000), false, 'no key, no timeout');
  s.setPlain('k', 'v');
  t.equal(s.pttl('k'), -1);
  t.equal(s.pttl('missing'), -2);
  t.equal(s.pexpiretime('k'), -1);
  t.equal(s.pexpiretime('missing'), -2);
  t.equal(s.expire('k', clock.now + 1000, ExpireFlag.XX), false, 'XX without a TTL');
  t.equal(s.expire('k', clock.now + 1000, ExpireFlag.GT), false, 'GT: no TTL counts as infinite');
  t.equal(s.expire('k', clock.now + 1000, ExpireFlag.LT), true, 'LT: anything is less than infinite');
  t.equal(s.expire('k', clock.now + 2000, ExpireFlag.NX), false, 'NX with a TTL');
  t.equal(s.expire('k', clock.now + 2000, ExpireFlag.GT), true, 'GT with a greater time');
  t.equal(s.expire('k', clock.now + 1500, ExpireFlag.GT), false, 'GT with a smaller time');
  t.equal(s.expire('k', clock.now + 3000, ExpireFlag.LT), false, 'LT with a greater time');
  t.equal(s.expire('k', clock.now + 500, ExpireFlag.XX), true);
  t.equal(s.pttl('k'), 500);
  t.equal(s.pexpiretime('k'), clock.now + 500);
  t.equal(s.persist('k'), true);
  t.equal(s.persist('k'), false, 'nothing to persist');
  t.equal(s.pttl('k'), -1);
  t.equal(s.persist('missing'), false);
  t.equal(s.expire('k', clock.now), true, 'a time not in the future deletes');
  t.equal(s.get('k'), null);
});

t.test('lazy expiry on access, with the injected clock', async (t) => {
  const { s, clock } = store();
  s.set('a', '1', 0, clock.now + 100);
  s.set('b', '2', 0, clock.now + 200);
  clock.now += 100;
  t.equal(s.get('a'), null, 'expired at its time');
  t.equal(s.get('b'), '2');
  t.same(s.keys('*'), ['b'], 'KEYS skips expired keys');
  clock.now += 100;
  t.same(s.keys('*'), []);
  t.same(s.scan(0, null, 10), [0, []], 'SCAN skips expired keys');
  t.equal(s.stats().expired, 1, 'counted when removed');
});

t.test('active sweep is bounded and removes expired keys', async (t) => {
  const { s, clock } = store();
  for (let i = 0; i < 1000; i++) s.set(`t${i}`, 'v', 0, clock.now + 10);
  for (let i = 0; i < 100; i++) s.setPlain(`p${i}`, 'v');
  t.equal(s.sweep(), 0, 'nothing expired yet');
  clock.now += 10;
  const first = s.sweep(2);
  t.ok(first > 0 && first <= 40, `one call removes at most rounds × 20 keys (${first})`);
  let total = first;
  while (s.stats().volatileKeys > 0) total += s.sweep();
  t.equal(total, 1000, 'repeated sweeps remove every expired key');
  t.equal(s.size, 100, 'keys without TTL stay');
  t.equal(s.stats().expired, 1000);
});

t.test('KEYS and SCAN with patterns and cursors', async (t) => {
  const { s } = store({ initialCapacity: 16 });
  for (let i = 0; i < 100; i++) s.setPlain(`user:${i}`, 'v');
  for (let i = 0; i < 50; i++) s.setPlain(`item:${i}`, 'v');
  t.equal(s.keys('user:*').length, 100);
  t.same(s.keys('user:1?').sort(), Array.from({ length: 10 }, (_, i) => `user:1${i}`).sort());
  t.same(s.keys('item:[1-2]').sort(), ['item:1', 'item:2']);
  t.same(s.keys('item:[^0-8]').sort(), ['item:9']);
  t.same(s.keys('nothing*'), []);
  // A full scan in small steps returns every key exactly once, even while other keys come and go.
  const seen = new Map<string, number>();
  let cursor = 0;
  let calls = 0;
  do {
    const [next, keys] = s.scan(cursor, null, 7);
    for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
    s.del([`item:${calls}`]);
    s.setPlain(`new:${calls}`, 'v');
    cursor = next;
    calls++;
  } while (cursor !== 0);
  t.ok(calls > 10, 'it took many calls');
  for (let i = 0; i < 100; i++) t.equal(seen.get(`user:${i}`), 1, `user:${i} once`);
  t.ok(
    [...seen.values()].every((n) => n === 1),
    'no key twice',
  );
  let matched = 0;
  cursor = 0;
  do {
    const [next, keys] = s.scan(cursor, 'user:*', 1000);
    matched += keys.length;
    cursor = next;
  } while (cursor !== 0);
  t.equal(matched, 100, 'MATCH filters');
});

t.test('DBSIZE, FLUSHALL, stats', async (t) => {
  const { s } = store();
  s.setPlain('a', '1');
  s.set('b', '2', 0, 2_000_000);
  s.get('a');
  s.get('zz');
  const st = s.stats();
  t.match(st, { keys: 2, hits: 1, misses: 1, volatileKeys: 1, evictions: 0 });
  t.equal(st.bytes, entrySize('a', '1') + entrySize('b', '2'));
  s.flushAll();
  t.equal(s.size, 0);
  t.equal(s.bytes, 0);
  t.equal(s.stats().volatileKeys, 0);
  s.setPlain('c', '3');
  t.equal(s.get('c'), '3', 'usable after FLUSHALL');
});

t.test('memory estimate follows writes, overwrites and deletes', async (t) => {
  const { s } = store();
  s.setPlain('key', 'x'.repeat(100));
  t.equal(s.bytes, entrySize('key', 'x'.repeat(100)));
  s.setPlain('key', 'x'.repeat(10));
  t.equal(s.bytes, entrySize('key', 'x'.repeat(10)), 'overwrite replaces the size');
  s.del(['key']);
  t.equal(s.bytes, 0);
});

t.test('maxmemory noeviction: OOM, nothing evicted, deletes still work', async (t) => {
  const max = 10 * entrySize('k000', 'v'.repeat(50));
  const { s } = store({ maxBytes: max, policy: 'noeviction' });
  let stored = 0;
  let err: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      s.setPlain(`k${String(i).padStart(3, '0')}`, 'v'.repeat(50));
      stored++;
    } catch (e) {
      err = e;
      break;
    }
  }
  t.equal(stored, 10, 'exactly what fits');
  t.match(err, { code: 'OOM', message: "command not allowed when used memory > 'maxmemory'." });
  t.ok(s.bytes <= max);
  t.throws(() => s.mset(['x', 'y', 'z', 'w']), { code: 'OOM' }, 'MSET refused as a whole');
  t.equal(s.get('x'), null, 'no part of it applied');
  s.setPlain('k000', 'short');
  t.equal(s.get('k000'), 'short', 'a write that shrinks is allowed');
  t.equal(s.del(['k001']), 1);
  s.setPlain('k100', 'v'.repeat(50));
  t.equal(s.stats().evictions, 0);
  t.equal(s.size, 10);
});

t.test('maxmemory allkeys-lru evicts the least recently used', async (t) => {
  const size = entrySize('k0', 'v'.repeat(50));
  const { s } = store({ maxBytes: 5 * size, policy: 'allkeys-lru' });
  for (let i = 0; i < 5; i++) s.setPlain(`k${i}`, 'v'.repeat(50));
  s.get('k0'); // k1 is now the least recently used
  s.setPlain('k5', 'v'.repeat(50));
  t.equal(s.get('k1'), null, 'k1 evicted');
  t.equal(s.get('k0'), 'v'.repeat(50), 'k0 kept: it was read');
  t.equal(s.stats().evictions, 1);
  t.ok(s.bytes <= 5 * size);
  s.setPlain('k0', 'v'.repeat(50 + size) /* grows k0 itself */);
  t.equal(s.get('k0')?.length, 50 + size, 'the key being written is never its own victim');
  t.ok(s.bytes <= 5 * size);
  t.throws(() => s.setPlain('huge', 'v'.repeat(6 * size)), { code: 'OOM' }, 'larger than all memory');
});

t.test('the shared index grows, reuses deleted buckets and empties', async (t) => {
  // 3500 keys outgrow the first table (1024 buckets) twice; bench:big-shard runs the real sizes.
  const { s } = store({ initialCapacity: 16 });
  for (let i = 0; i < 3500; i++) s.setPlain(`k${i}`, `${i}`);
  t.equal(s.size, 3500);
  t.equal(s.get('k0'), '0');
  t.equal(s.get('k3499'), '3499');
  t.equal(s.del(['k10', 'k2500']), 2);
  s.setPlain('again', 'x');
  t.equal(s.size, 3499);
  t.equal(s.keys('*').length, 3499);
  t.equal(s.get('k10'), null);
  s.setPlain('k10', 'back');
  t.equal(s.get('k10'), 'back');
  s.flushAll();
  t.equal(s.get('k3'), null);
});

t.test('APPEND, STRLEN, GETRANGE, SETRANGE, GETDEL, GETEX, INCRBYFLOAT', async (t) => {
  const { s, clock } = store();
  t.equal(s.append('a', 'Hello'), 5, 'APPEND creates');
  t.equal(s.append('a', ' World'), 11);
  t.equal(s.get('a'), 'Hello World', 'strings stay strings');
  t.equal(s.append('a', new Uint8Array([0xff])), 12, 'bytes make bytes');
  t.ok(s.get('a') instanceof Uint8Array);
  t.equal(s.strlen('a'), 12);
  t.equal(s.strlen('none'), 0);
  t.equal(s.strlen(''), 0);
  s.setPlain('é', 'é');
  t.equal(s.strlen('é'), 2, 'STRLEN counts UTF-8 bytes');

  s.setPlain('r', 'This is a string');
  t.equal(s.getRange('r', 0, 3), 'This');
  t.equal(s.getRange('r', -3, -1), 'ing');
  t.equal(s.getRange('r', 0, -1), 'This is a string');
  t.equal(s.getRange('r', 10, 100), 'string');
  t.equal(s.getRange('r', 5, 3), '', 'start past end');
  t.equal(s.getRange('missing', 0, 10), '');
  t.same(s.getRange('a', -1, -1), new Uint8Array([0xff]), 'bytes in, bytes out');

  t.equal(s.setRange('r', 10, 'STRING'), 16);
  t.equal(s.get('r'), 'This is a STRING');
  t.equal(s.setRange('pad', 3, 'x'), 4, 'a gap is zero-padded');
  t.same(s.get('pad'), new Uint8Array([0, 0, 0, 120]));
  t.equal(s.setRange('none', 0, ''), 0, 'nothing to write to a missing key creates nothing');
  t.equal(s.exists(['none']), 0);
  s.set('ttl', 'abc', 0, clock.now + 5000);
  s.setRange('ttl', 1, 'X');
  s.append('ttl', 'd');
  t.equal(s.get('ttl'), 'aXcd');
  t.equal(s.pttl('ttl'), 5000, 'SETRANGE and APPEND keep the TTL');

  t.equal(s.getDel('ttl'), 'aXcd');
  t.equal(s.get('ttl'), null);
  t.equal(s.getDel('ttl'), null);

  s.setPlain('g', 'v');
  t.equal(s.getEx('g', clock.now + 1000), 'v');
  t.equal(s.pttl('g'), 1000);
  t.equal(s.getEx('g', 0), 'v', 'no option keeps the TTL');
  t.equal(s.pttl('g'), 1000);
  t.equal(s.getEx('g', -1), 'v');
  t.equal(s.pttl('g'), -1, 'PERSIST');
  t.equal(s.getEx('g', clock.now - 1), 'v', 'a past time returns the value, then it is gone');
  t.equal(s.get('g'), null);
  t.equal(s.getEx('g', 0), null);

  t.equal(s.incrByFloat('f', 10.5), '10.5');
  t.equal(s.incrByFloat('f', 0.1), '10.6');
  t.equal(s.incrByFloat('f', -5), '5.6');
  s.setPlain('big', '5.0e3');
  t.equal(s.incrByFloat('big', 200), '5200', 'exponent input, plain output');
  t.equal(s.incrByFloat('huge', 1e21), '1000000000000000000000', 'no exponent in the result');
  s.setPlain('nan', 'abc');
  t.throws(() => s.incrByFloat('nan', 1), { code: 'NOT_FLOAT', message: 'value is not a valid float' });
  s.setPlain('max', '1.7e308');
  t.throws(() => s.incrByFloat('max', 1.7e308), { message: 'increment would produce NaN or Infinity' });
  t.equal(s.get('max'), '1.7e308', 'unchanged after the error');
});
