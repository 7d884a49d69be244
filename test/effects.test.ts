// What a shard tells replication (workers/effects.ts): after a batch, one command per changed key
// setting its whole state; nothing for copies' writes or keys moving; FLUSHALLs counted; a key
// whose range is being handed over is the new owner's to report.
import t from 'tap';
import { Op, REPLICA_COPY, SetFlag } from '../src/protocol.js';
import { takeEffects } from '../workers/effects.js';
import { executeBatch, Shard } from '../workers/execute.js';
import { ShardStore, entrySize } from '../workers/store.js';

function recording(now: () => number = Date.now): { shard: Shard; store: ShardStore } {
  const store = new ShardStore({ now });
  store.changes = new Set();
  return { shard: new Shard(store), store };
}

const text = (e: ReturnType<typeof takeEffects>): string => (e === null ? '' : Buffer.from(e.bytes).toString('latin1'));

t.test('each changed key once, as its state after the batch', async (t) => {
  t.equal(takeEffects(new ShardStore()), null, 'not recording: nothing');
  const { shard, store } = recording(() => 1_000);
  executeBatch(shard, [
    Op.SET,
    'a',
    '1',
    Op.SET,
    'a',
    '2',
    Op.SET_EX,
    'b',
    ['x', 0, 5_000],
    Op.INCRBY,
    'n',
    5,
    Op.SET,
    'gone',
    'v',
    Op.DEL,
    '',
    ['gone', 'never'],
    Op.GET,
    'a',
    undefined,
  ]);
  const e = takeEffects(store)!;
  t.equal(e.flushes, 0);
  const s = text(e);
  t.match(s, '*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n2\r\n', 'the last value only');
  t.notMatch(s, /\$1\r\n1\r\n/, 'not the one before');
  t.match(s, '*5\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\nx\r\n$4\r\nPXAT\r\n$4\r\n5000\r\n', 'absolute expiry');
  t.match(s, '*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$1\r\n5\r\n', 'INCR as its result');
  t.match(s, '*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n');
  t.notMatch(s, /never/, 'a key that did not exist changed nothing');
  t.equal(takeEffects(store), null, 'taken once');
  // A failed conditional write changes nothing.
  executeBatch(shard, [Op.SET_EX, 'a', ['z', SetFlag.NX, 0]]);
  t.equal(takeEffects(store), null);
});

t.test('FLUSHALLs are counted; what came before one is gone with it', async (t) => {
  const { shard, store } = recording();
  executeBatch(shard, [Op.SET, 'a', '1', Op.FLUSHALL, '', undefined, Op.FLUSHALL, '', undefined, Op.SET, 'b', '2']);
  const e = takeEffects(store)!;
  t.equal(e.flushes, 2);
  t.equal(text(e), '*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n');
});

t.test("copies' writes and moving keys are not reported", async (t) => {
  const { shard, store } = recording();
  executeBatch(shard, [Op.SET | REPLICA_COPY, 'copy', '1']);
  t.equal(takeEffects(store), null, 'a copy: its primary reports it');
  t.equal(store.get('copy'), '1');
  executeBatch(shard, [Op.MIG_PLAN, '', [0, 0xffffffff]]);
  executeBatch(shard, [Op.MIG_DROP, '', [0, 100]]);
  t.equal(store.get('copy'), null, 'dropped');
  t.equal(takeEffects(store), null, 'a key moving away changes nothing a replica holds');
});

t.test('a range being handed over: its expiries are the new owner’s to report', async (t) => {
  let clock = 1_000;
  const { shard, store } = recording(() => clock);
  executeBatch(shard, [Op.SET_EX, 'k', ['v', 0, 2_000], Op.SET_EX, 'other', ['v', 0, 2_000]]);
  takeEffects(store);
  executeBatch(shard, [Op.MIG_PLAN, '', [0, 0xffffffff]]);
  // A write queued before the export, in the same batch: still this shard's to report.
  executeBatch(shard, [Op.SET_EX, 'k', ['w', 0, 2_000], Op.MIG_EXPORT, '', [0, 0, 256, 1 << 20]]);
  const skip = (key: string): boolean => shard.migration.handedOver(key);
  t.match(text(takeEffects(store, skip)), /\$1\r\nw\r\n/);
  shard.migration.settleExports();
  clock = 3_000;
  executeBatch(shard, [Op.GET, 'k', undefined]);
  t.equal(takeEffects(store, skip), null, 'its expiry here after the hand-over: not reported');
  executeBatch(shard, [Op.MIG_END, '', undefined]);
  executeBatch(shard, [Op.GET, 'other', undefined]);
  t.match(text(takeEffects(store, skip)), '*2\r\n$3\r\nDEL\r\n$5\r\nother\r\n', 'no plan: expiries reported again');
});

t.test('keys the shard evicts or expires by itself are reported as DEL', async (t) => {
  let clock = 1_000;
  const store = new ShardStore({ now: () => clock, maxBytes: 2_000, policy: 'allkeys-lru' });
  store.changes = new Set();
  const shard = new Shard(store);
  for (let i = 0; i < 30; i++) executeBatch(shard, [Op.SET, `k${i}`, 'x'.repeat(40)]);
  const evicted = Array.from({ length: 30 }, (_, i) => `k${i}`).filter((k) => store.get(k) === null);
  t.ok(evicted.length > 0, `${evicted.length} evicted`);
  const s = text(takeEffects(store));
  for (const k of evicted) t.match(s, `*2\r\n$3\r\nDEL\r\n$${k.length}\r\n${k}\r\n`, `DEL ${k}`);
  executeBatch(shard, [Op.SET_EX, 'ttl', ['v', 0, 1_500]]);
  takeEffects(store);
  clock = 2_000;
  store.sweep();
  t.match(text(takeEffects(store)), '*2\r\n$3\r\nDEL\r\n$3\r\nttl\r\n', 'the sweep’s expiry');
});

t.test('hand-over is per key: a moving key not exported yet is still reported; imports report what they evict or refuse', async (t) => {
  let clock = 1_000;
  const { shard, store } = recording(() => clock);
  for (let i = 0; i < 10; i++) executeBatch(shard, [Op.SET_EX, `m${i}`, ['v', 0, 2_000]]);
  takeEffects(store);
  executeBatch(shard, [Op.MIG_PLAN, '', [0, 0xffffffff]]);
  // One chunk of one entry: one key exported, nine still here.
  executeBatch(shard, [Op.MIG_EXPORT, '', [0, 0, 1, 1 << 20]]);
  const skip = (key: string): boolean => shard.migration.handedOver(key);
  takeEffects(store, skip);
  shard.migration.settleExports();
  const exported = Array.from({ length: 10 }, (_, i) => `m${i}`).filter(skip);
  t.equal(exported.length, 1, 'one key handed over');
  clock = 3_000;
  store.sweep(1_000);
  const s = text(takeEffects(store, skip));
  t.equal((s.match(/DEL/g) ?? []).length, 9, 'the nine not exported: their expiry is still this shard’s');
  t.notMatch(s, new RegExp(`\\$2\\r\\n${exported[0]}\\r\\n`), 'the exported one: the new owner’s');

  // The new owner's side: an import that evicts its own keys, or refuses an entry expired in transit.
  const n = new ShardStore({ now: () => clock, maxBytes: 8 * entrySize('own0', 'x'.repeat(40)) + 250, policy: 'allkeys-lru' });
  n.changes = new Set();
  const nShard = new Shard(n);
  for (let i = 0; i < 8; i++) executeBatch(nShard, [Op.SET, `own${i}`, 'x'.repeat(40)]);
  takeEffects(n);
  executeBatch(nShard, [Op.MIG_PLAN, '', [0, 0xffffffff]]);
  const { encodeEntries } = await import('../workers/entries.js');
  const entries = encodeEntries(['late', 'v', 2_000, 'big', 'y'.repeat(600), 0]);
  executeBatch(nShard, [Op.MIG_REPLACE, '', [0, entries, false]]);
  const ns = text(takeEffects(n));
  t.match(ns, '*2\r\n$3\r\nDEL\r\n$4\r\nlate\r\n', 'expired in transit: reported here');
  t.notMatch(ns, /\$3\r\nbig\r\n/, 'the import itself changes nothing a replica holds');
  const evicted = Array.from({ length: 8 }, (_, i) => `own${i}`).filter((k) => n.peek(k) === null);
  t.ok(evicted.length > 0, `${evicted.length} of its own keys evicted by the import`);
  for (const k of evicted) t.match(ns, `$${k.length}\r\n${k}\r\n`, `DEL ${k}`);
});
