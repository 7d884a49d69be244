// Reads in place from shared memory while the owner writes: reader threads hammer keys while the
// owner thread sets checksummed, versioned values of changing sizes, deletes, expires (an injected
// clock), evicts (LRU over a small budget), grows its index and flushes. Every value a reader
// gets must be whole, its own key's, never older than one it saw before, never expired.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { createShardMemory } from '../src/shared/layout.js';
import { FALLBACK, ShardView } from '../src/shared/view.js';
import { ShardStore } from '../workers/store.js';
import type { StressData } from './fixtures/shared-stress.js';

const fixture = new URL('./fixtures/shared-stress.js', import.meta.url);

t.test('readers in other threads never see a torn, foreign, stale or expired value', async (t) => {
  const readers = 3;
  const memory = createShardMemory(16);
  const clock = new SharedArrayBuffer(8);
  new Float64Array(clock)[0] = 1_000_000;
  const flags = new SharedArrayBuffer(8);
  const base = { memory, clock, flags, keys: 2000, ops: 60_000, readers };
  const workers = [
    new Worker(fixture, { workerData: { ...base, role: 'owner', seed: 1 } satisfies StressData }),
    ...Array.from(
      { length: readers },
      (_, i) => new Worker(fixture, { workerData: { ...base, role: 'reader', seed: 100 + i } satisfies StressData }),
    ),
  ];
  const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0] as Record<string, number | string>));
  const owner = results[0]!;
  t.ok(Number(owner.evictions) > 0, `the owner evicted (${owner.evictions}) and flushed (${owner.flushes})`);
  for (const r of results.slice(1)) {
    t.ok(Number(r.hits) > 100, `reader ${JSON.stringify(r)}`);
    t.equal(r.torn, 0, 'no torn value');
    t.equal(r.wrongKey, 0, "no other key's value");
    t.equal(r.stale, 0, 'never older than a value already seen');
    t.equal(r.expiredServed, 0, 'never a value past its expiry');
  }
});

t.test('a view reads what the owner wrote: strings, UTF-8, bytes, binary keys, TTLs, ranges', async (t) => {
  let now = 1000;
  const store = new ShardStore({ now: () => now });
  const view = new ShardView(store.table.memory);
  store.setPlain('a', 'hello');
  store.setPlain('é', 'naïve ☃');
  store.setPlain('bytes', new Uint8Array([0, 255, 7]));
  const binaryKey = `\uDC00${Buffer.from([0xff, 0x00]).toString('latin1')}`;
  store.setPlain(binaryKey, 'bin');
  store.set('ttl', 'soon', 0, 1500);
  t.equal(view.get('a', now), 'hello');
  t.equal(view.get('é', now), 'naïve ☃');
  t.same(view.get('bytes', now), Buffer.from([0, 255, 7]));
  t.ok(Buffer.isBuffer(view.get('bytes', now)), 'bytes come back as a Buffer');
  t.equal(view.get(binaryKey, now), 'bin');
  t.equal(view.get('missing', now), null);
  t.equal(view.expiry('ttl', now), 1500);
  t.equal(view.expiry('a', now), -1);
  t.equal(view.expiry('missing', now), -2);
  t.equal(view.strlen('é', now), Buffer.byteLength('naïve ☃'));
  t.equal(view.getRange('a', 1, -2, now), 'ell');
  t.equal(view.getRange('a', 10, 20, now), '');
  t.same(view.getRange('bytes', 1, 1, now), Buffer.from([255]));
  t.equal(view.exists('a', now), 1);
  now = 1500;
  t.equal(view.get('ttl', now), null, 'expired by the clock, before the owner deletes it');
  t.equal(view.exists('ttl', now), 0);
  store.setPlain('a', 'x'.repeat(5000));
  t.equal(view.get('a', now), 'x'.repeat(5000), 'a value that moved to a bigger block');
  store.del(['a']);
  t.equal(view.get('a', now), null, 'deleted');
  for (let i = 0; i < 5000; i++) store.setPlain(`k${i}`, `${i}`);
  t.equal(view.get('k4999', now), '4999', 'after the index grew');
  t.equal(view.get('é', now), 'naïve ☃');
  store.flushAll();
  t.equal(view.get('k1', now), null, 'after FLUSHALL');
  t.equal(view.reads, view.hits + 6, 'reads and hits are counted (an expired key is a miss)');
  store.table.close();
  t.equal(view.get('k1', now), FALLBACK, 'a closed memory is never read');
});
