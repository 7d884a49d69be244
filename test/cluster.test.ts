// The embedded API against real shard workers (compiled dist/), end to end.
import { BroadcastChannel } from 'node:worker_threads';
import t from 'tap';
import { CacheError, createCluster } from '../src/index.js';
import type { MembershipEvent } from '../src/protocol.js';
import { resolveOptions } from '../src/options.js';
import { startCluster as cluster } from './helpers/cluster.js';

t.test('starts 3 shards named node-1..3 and routes every key to its owner', async (t) => {
  const c = await cluster(t);
  t.same(
    c.shards().map((s) => [s.id, s.name, s.state]),
    [
      [1, 'node-1', 'ready'],
      [2, 'node-2', 'ready'],
      [3, 'node-3', 'ready'],
    ],
  );
  t.equal(c.epoch, 3, 'one epoch per shard placed');
  const keys = Array.from({ length: 300 }, (_, i) => `key:${i}`);
  await Promise.all(keys.map((k) => c.set(k, `v:${k}`)));
  const stats = await c.stats();
  t.equal(stats.totals.keys, 300);
  const owners = new Map<string, number>();
  for (const k of keys) owners.set(c.ownerOf(k), (owners.get(c.ownerOf(k)) ?? 0) + 1);
  for (const s of stats.shards) t.equal(s.stats?.keys, owners.get(s.name), `${s.name} holds the keys the ring gives it`);
  t.same(
    await Promise.all(keys.map((k) => c.get(k))),
    keys.map((k) => `v:${k}`),
  );
});

t.test('commands', async (t) => {
  const c = await cluster(t);
  t.equal(await c.set('a', '1'), true);
  t.equal(await c.set('a', '2', { nx: true }), false);
  t.equal(await c.set('a', '3', { xx: true, get: true }), '1');
  t.equal(await c.set('b', 'x', { xx: true }), false);
  t.equal(await c.get('a'), '3');
  t.equal(await c.incr('n'), 1);
  t.equal(await c.incrBy('n', 9), 10);
  t.equal(await c.decr('n'), 9);
  t.equal(await c.decrBy('n', 4), 5);
  t.equal(await c.incrBy('n', 2n), 7);
  await c.set('word', 'abc');
  await t.rejects(c.incr('word'), { code: 'NOT_INTEGER', message: 'value is not an integer or out of range' }, 'INCR of a non-integer');
  t.equal(await c.get('word'), 'abc');
  await c.mset({ m1: 'x', m2: 'y', m3: 'z' });
  await c.mset([
    ['m4', 'w'],
    [Buffer.from('m5'), Buffer.from('bytes')],
  ]);
  t.same(await c.mget(['m1', 'nope', 'm3', 'm5', 'm4']), ['x', null, 'z', Buffer.from('bytes'), 'w']);
  t.equal(await c.exists('m1', 'm1', 'nope'), 2);
  t.equal(await c.del('m1', 'm2', 'nope'), 2);
  t.equal(await c.dbsize(), 6);
  t.same((await c.keys('m*')).sort(), ['m3', 'm4', 'm5']);

  await c.set('t', 'v', { ex: 100 });
  t.equal(await c.ttl('t'), 100);
  t.ok((await c.pttl('t')) > 99_000);
  t.equal(await c.persist('t'), true);
  t.equal(await c.ttl('t'), -1);
  t.equal(await c.ttl('nope'), -2);
  t.equal(await c.expire('t', 50), true);
  t.equal(await c.expire('t', 10, 'GT'), false);
  t.equal(await c.pexpire('t', 10_000, 'LT'), true);
  t.ok((await c.pexpireTime('t')) > Date.now());
  t.equal(await c.expire('nope', 5), false);
  await c.set('p', 'v', { pxat: Date.now() + 60_000 });
  t.equal(await c.set('p', 'w', { keepTtl: true, get: true }), 'v');
  t.ok((await c.pttl('p')) > 0, 'KEEPTTL');
  await c.set('gone', 'v', { exat: 1 });
  t.equal(await c.get('gone'), null, 'an EXAT in the past leaves nothing');
  t.equal(await c.pexpireAt('p', 1000), true, 'an expiry time in the past deletes');
  t.equal(await c.get('p'), null);
  t.equal(await c.expireAt('n', Math.floor(Date.now() / 1000) + 100), true);

  t.equal(await c.append('ap', 'ab'), 2);
  t.equal(await c.append('ap', Buffer.from([0xff])), 3);
  t.same(await c.get('ap'), Buffer.from([0x61, 0x62, 0xff]));
  t.equal(await c.strlen('ap'), 3);
  t.same(await c.getRange('ap', 0, 1), Buffer.from('ab'), 'a byte range of bytes is a Buffer');
  await c.set('txt', 'hello');
  t.equal(await c.getRange('txt', 1, 3), 'ell', 'of a string, a string');
  t.equal(await c.setRange('sr', 2, 'xy'), 4);
  t.equal((await c.getDel('sr')) !== null, true);
  t.equal(await c.get('sr'), null);
  await c.set('ge', 'v');
  t.equal(await c.getEx('ge', { px: 60_000 }), 'v');
  t.ok((await c.pttl('ge')) > 0);
  t.equal(await c.getEx('ge', { persist: true }), 'v');
  t.equal(await c.pttl('ge'), -1);
  t.equal(await c.incrByFloat('fl', 1.5), '1.5');
  await t.rejects(c.incrByFloat('fl', Number.NaN), { code: 'EINVAL', message: /increment must be a finite number/ });
  await t.rejects(c.setRange('sr', -1, 'x'), { code: 'EINVAL', message: /offset must be a non-negative integer/ });
  await t.rejects(c.getEx('ge', { ex: 1, persist: true }), { code: 'EINVAL', message: /only one of/ });
  await t.rejects(c.getRange('ap', 1.5, 2), { code: 'EINVAL' });

  await c.flushall();
  t.equal(await c.dbsize(), 0);
});

t.test('RENAME, COPY, MSETNX, RANDOMKEY across shards', async (t) => {
  const c = await cluster(t);
  // Two keys on different shards.
  const a = 'rename-src';
  let b = 'rename-dst-0';
  for (let i = 1; c.ownerOf(b) === c.ownerOf(a); i++) b = `rename-dst-${i}`;
  await c.set(a, 'v1', { px: 60_000 });
  const expireAt = await c.pexpireTime(a);
  // Issued together: ops after the RENAME see it done; ops before it are seen by it.
  const [renamed, atB, setA, atA] = await Promise.all([c.rename(a, b), c.get(b), c.set(a, 'v2'), c.get(a)]);
  t.same([renamed, atB, setA, atA], [true, 'v1', true, 'v2'], 'later ops wait for the rename');
  t.equal(await c.pexpireTime(b), expireAt, 'the TTL moves with the value');
  await t.rejects(c.rename('nope', b), { code: 'EINVAL', message: 'no such key' });
  t.equal(await c.rename(a, b, { nx: true }), false, 'RENAMENX onto an existing key');
  t.equal(await c.get(a), 'v2', 'and nothing moved');
  t.equal(await c.rename(a, a), true, 'renaming a key onto itself');
  t.equal(await c.copy(a, b), false, 'COPY onto an existing key needs replace');
  t.equal(await c.copy(a, b, { replace: true }), true);
  t.same(await c.mget([a, b]), ['v2', 'v2']);
  t.equal(await c.pttl(b), -1, 'COPY copies the (absent) TTL too');
  t.equal(await c.copy('nope', 'x'), false);
  await t.rejects(c.copy(a, a), { code: 'EINVAL', message: 'source and destination objects are the same' }, 'COPY onto itself, as Redis');
  await t.rejects(c.copy('nope', Buffer.from('nope')), { code: 'EINVAL' }, 'the same key as a string and as bytes');
  t.equal(await c.msetNx({ n1: '1', n2: '2' }), true);
  t.equal(await c.msetNx({ n2: 'x', n3: '3' }), false, 'one key exists: nothing set');
  t.same(await c.mget(['n1', 'n2', 'n3']), ['1', '2', null]);
  const all = new Set(await c.keys());
  for (let i = 0; i < 20; i++) t.ok(all.has((await c.randomKey()) as string), 'RANDOMKEY returns an existing key');
  await c.flushall();
  t.equal(await c.randomKey(), null, 'null when empty');
});

t.test('binary-safe keys and values; a key is its bytes', async (t) => {
  const c = await cluster(t);
  const bin = Buffer.from([0xff, 0x00, 0xfe, 0x0a]);
  await c.set(bin, bin);
  t.same(await c.get(bin), bin);
  t.ok(Buffer.isBuffer(await c.get(bin)), 'bytes come back as a Buffer');
  await c.set('naïve', 'ok');
  t.equal(await c.get(Buffer.from('naïve')), 'ok', 'UTF-8 bytes of a string key are the same key');
  await c.set(new Uint8Array([104, 105]), 'hi');
  t.equal(await c.get('hi'), 'hi', 'Uint8Array keys');
  t.equal(await c.get('\uD800'), null);
  await c.set('\uD800', 'lone');
  t.equal(await c.get(Buffer.from('\uFFFD')), 'lone', 'a lone surrogate is encoded as UTF-8 does it');
  const keys = await c.keys();
  t.ok(
    keys.some((k) => Buffer.isBuffer(k) && k.equals(bin)),
    'KEYS returns non-UTF-8 keys as Buffers',
  );
  t.ok(keys.includes('naïve'));
  await c.set('', '');
  t.equal(await c.get(''), '', 'empty key and empty value');
  // A small Buffer from Node's pool views an 8 KiB slab: only its own bytes must travel.
  const pooled = Buffer.from('pooled value');
  t.ok(pooled.buffer.byteLength > pooled.length, 'precondition: a pooled Buffer');
  await c.set('pooled', pooled);
  const stats = await c.stats();
  t.ok(stats.totals.bytes < 4096, `estimate counts the value, not the slab (${stats.totals.bytes})`);
  t.same(await c.get('pooled'), pooled);
});

t.test('scan walks the whole cluster with cursors', async (t) => {
  const c = await cluster(t);
  const keys = Array.from({ length: 500 }, (_, i) => `s:${i}`);
  await c.mset(keys.map((k) => [k, 'v'] as const));
  await c.set('other', 'v');
  const seen: string[] = [];
  let cursor = '0';
  let calls = 0;
  do {
    const [next, batch] = await c.scan(cursor, { match: 's:*', count: 50 });
    seen.push(...(batch as string[]));
    cursor = next;
    calls++;
  } while (cursor !== '0');
  t.ok(calls >= 3, `many calls (${calls})`);
  t.same(seen.sort(), [...keys].sort(), 'every key exactly once');
  const all: (string | Buffer)[] = [];
  for await (const k of c.scanIterator({ count: 100 })) all.push(k);
  t.equal(all.length, 501);
  await t.rejects(c.scan('abc'), { code: 'EINVAL' });
  await t.rejects(c.scan(-1), { code: 'EINVAL' });
  await t.rejects(c.scan('0', { count: 0 }), { code: 'EINVAL' });
  t.same(await c.scan(String(1024 * 5 + 9)), ['0', []], 'a cursor past the last shard ends the scan');
});

t.test('bad input: EINVAL naming the problem, nothing changes', async (t) => {
  const c = await cluster(t, { maxValueBytes: 1024 });
  await c.set('k', 'original', { ex: 100 });
  const bad: [string, () => Promise<unknown>, RegExp][] = [
    ['number key', () => c.get(42 as never), /key must be a string, Buffer or Uint8Array, got number/],
    ['null key', () => c.set(null as never, 'v'), /key must be .* got null/],
    ['object value', () => c.set('k', { a: 1 } as never), /value must be .* got object/],
    ['undefined value', () => c.set('k', undefined as never), /value must be/],
    ['too large', () => c.set('k', 'x'.repeat(2000)), /value is larger than the limit of 1024 bytes/],
    ['negative ex', () => c.set('k', 'v', { ex: -1 }), /options.ex must be a positive integer, got -1/],
    ['zero px', () => c.set('k', 'v', { px: 0 }), /options.px must be a positive integer, got 0/],
    ['fractional ex', () => c.set('k', 'v', { ex: 1.5 }), /options.ex must be a positive integer, got 1.5/],
    ['huge px', () => c.set('k', 'v', { px: 2 ** 53 }), /options.px is too large/],
    ['huge ex', () => c.set('k', 'v', { ex: 2 ** 50 }), /options.ex is too large/],
    ['string ex', () => c.set('k', 'v', { ex: '10' as never }), /options.ex must be a positive integer, got "10"/],
    ['two expiries', () => c.set('k', 'v', { ex: 1, px: 1 }), /only one of ex, px, exat, pxat and keepTtl/],
    ['nx and xx', () => c.set('k', 'v', { nx: true, xx: true }), /nx and options.xx/],
    ['unknown option', () => c.set('k', 'v', { ttl: 5 } as never), /options.ttl is not a SET option/],
    ['options not object', () => c.set('k', 'v', 5 as never), /options must be an object/],
    ['expire zero', () => c.expire('k', 0), /seconds must be a positive integer, got 0/],
    ['expire negative', () => c.pexpire('k', -5), /milliseconds must be a positive integer/],
    ['expire NaN', () => c.expire('k', NaN), /seconds must be a positive integer, got NaN/],
    ['expire mode', () => c.expire('k', 5, 'YY' as never), /mode must be one of NX, XX, GT, LT/],
    ['expireAt fraction', () => c.expireAt('k', 1.5), /unixSeconds must be a positive integer Unix time/],
    ['incr float', () => c.incrBy('k', 1.5), /increment must be a safe integer/],
    ['decr unsafe', () => c.decrBy('k', 2 ** 60), /decrement must be a safe integer/],
    ['mget empty', () => c.mget([]), /keys must name at least one key/],
    ['mget not array', () => c.mget('k' as never), /keys must be an array/],
    ['mget bad key', () => c.mget(['a', 5 as never]), /keys\[1\] must be/],
    ['del no keys', () => c.del(), /keys must name at least one key/],
    ['mset empty', () => c.mset({}), /at least one/],
    ['mset bad pair', () => c.mset([['a'] as never]), /entries\[0\] must be a \[key, value\] pair/],
    ['mset bad value', () => c.mset([['a', 1 as never]]), /entries\[0\] value must be/],
    ['keys pattern', () => c.keys(5 as never), /pattern must be/],
  ];
  for (const [name, call, message] of bad) {
    const err = await call().then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(CacheError.is(err), `${name}: a CacheError`);
    t.match(err, { code: 'EINVAL', message }, name);
  }
  t.equal(await c.get('k'), 'original', 'the stored value is untouched');
  t.equal(await c.ttl('k'), 100, 'and so is its TTL');
  t.equal(await c.get('a'), null, 'no half-applied MSET');
});

t.test('option errors name the option', async (t) => {
  await t.rejects(createCluster({ shards: 0 }), { code: 'EINVAL', message: /options.shards must be an integer from 1 to 256, got 0/ });
  await t.rejects(createCluster({ evictionPolicy: 'lfu' as never }), { code: 'EINVAL', message: /options.evictionPolicy/ });
  t.equal(resolveOptions({ shards: 100 }).maxShards, 100, 'maxShards follows a larger starting shard count');
  t.equal(resolveOptions({}).maxShards, 64);
  await t.rejects(createCluster({ shards: 4, maxShards: 3 }), {
    code: 'EINVAL',
    message: /options.shards \(4\) must not exceed options.maxShards \(3\)/,
  });
  await t.rejects(createCluster({ bogus: 1 } as never), { code: 'EINVAL', message: /options.bogus is not an option/ });
  await t.rejects(createCluster({ maxMemoryBytes: 10 }), { code: 'EINVAL', message: /options.maxMemoryBytes/ });
  await t.rejects(createCluster({ faultInjection: 'yes' as never }), { code: 'EINVAL', message: /faultInjection/ });
  await t.rejects(createCluster(null as never), { code: 'EINVAL', message: /options must be an object/ });
});

t.test('maxmemory is split over shards and enforced', async (t) => {
  const c = await cluster(t, { shards: 2, maxMemoryBytes: 64 * 1024, evictionPolicy: 'noeviction' });
  let oom: unknown;
  for (let i = 0; i < 2000 && oom === undefined; i++) await c.set(`k${i}`, 'v'.repeat(100)).catch((e: unknown) => (oom = e));
  t.match(oom, { code: 'OOM' });
  const stats = await c.stats();
  for (const s of stats.shards) t.ok(s.stats!.bytes <= 32 * 1024, `${s.name} within its half`);
  t.equal(stats.totals.maxBytes, 64 * 1024);
  t.ok((await c.del('k0')) >= 0, 'deletes still work');

  const lru = await cluster(t, { shards: 2, maxMemoryBytes: 64 * 1024, evictionPolicy: 'allkeys-lru' });
  for (let i = 0; i < 2000; i++) await lru.set(`k${i}`, 'v'.repeat(100));
  const ls = await lru.stats();
  t.ok(ls.totals.evictions > 0, 'evicts instead of failing');
  t.equal(await lru.get('k1999'), 'v'.repeat(100), 'the newest key is there');
  t.equal(await lru.get('k0'), null, 'the oldest is gone');
});

t.test('membership is announced on the BroadcastChannel and as events', async (t) => {
  const c = await cluster(t, { shards: 2 });
  const heard: MembershipEvent[] = [];
  const channel = new BroadcastChannel(c.channelName);
  t.teardown(() => channel.close());
  const got = new Promise<void>((resolve) => {
    channel.onmessage = (e) => {
      heard.push((e as MessageEvent).data as MembershipEvent);
      if (heard.some((h) => h.type === 'crash')) resolve();
    };
  });
  // A listener that joins later hears later events: a crash is one.
  const c2 = await cluster(t, { shards: 1, faultInjection: true });
  const channel2 = new BroadcastChannel(c2.channelName);
  t.teardown(() => channel2.close());
  const crash = new Promise<MembershipEvent>((resolve) => {
    channel2.onmessage = (e) => {
      const ev = (e as MessageEvent).data as MembershipEvent;
      if (ev.type === 'crash') resolve(ev);
    };
  });
  c2.injectFault(1, 'exit');
  t.match(await crash, { type: 'crash', shardId: 1, name: 'node-1', reason: /exited with code 1/ });
  t.equal(heard.length, 0, 'clusters do not hear each other');
  void got;
  // Every shard hears the bus: each counted the join announcements of its peers.
  const stats = await c.stats();
  for (const s of stats.shards) t.ok(s.stats!.announcements >= 1, `${s.name} heard announcements`);
  t.ok(
    stats.shards.some((s) => s.stats!.announcedEpoch === c.epoch),
    'and the current epoch',
  );
});

t.test('close: drains, then CLOSED; destroy: rejects pending', async (t) => {
  const c = await createCluster({ shards: 2 });
  const inflight = Array.from({ length: 1000 }, (_, i) => c.set(`k${i}`, 'v'));
  const closing = c.close();
  t.equal(c.state, 'closing');
  await t.rejects(c.get('k1'), { code: 'CLOSED' }, 'new ops are refused while closing');
  t.same(new Set(await Promise.all(inflight)), new Set([true]), 'ops already queued finish');
  await closing;
  t.equal(c.state, 'closed');
  await t.rejects(c.set('a', 'b'), { code: 'CLOSED', message: 'the cluster is closed' });
  await t.rejects(c.mget(['a']), { code: 'CLOSED' });
  await t.rejects(c.keys(), { code: 'CLOSED' });
  await t.rejects(c.stats(), { code: 'CLOSED' });
  await t.rejects(c.incr('a'), { code: 'CLOSED' });
  await c.close();
  t.pass('close twice is fine');

  const d = await createCluster({ shards: 1 });
  const pending = Array.from({ length: 100 }, (_, i) =>
    d.set(`k${i}`, 'v').then(
      () => 'ok',
      (e: CacheError) => e.code,
    ),
  );
  await d.destroy();
  const outcomes = new Set(await Promise.all(pending));
  t.ok(
    [...outcomes].every((o) => o === 'ok' || o === 'CLOSED'),
    `each op settled: ${[...outcomes]}`,
  );
  await d.destroy();
});
