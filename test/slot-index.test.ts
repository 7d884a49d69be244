// The shard's key index: one Map while small, PARTS Maps chosen by a key hash once past its split
// point (so no Map rehashes millions of entries at once), overflow Maps past V8's per-Map cap.
import t from 'tap';
import { PARTS, partOf, SlotIndex } from '../workers/slot-index.js';

t.test('splits into parts at its split point and keeps every key', async (t) => {
  const index = new SlotIndex(undefined, 100);
  for (let i = 0; i < 99; i++) index.set(`k${i}`, i);
  t.equal(index.maps, 1, 'one Map while small');
  for (let i = 99; i < 10_000; i++) index.set(`k${i}`, i);
  t.equal(index.maps, PARTS, 'PARTS Maps past the split');
  t.equal(index.size, 10_000);
  let right = 0;
  for (let i = 0; i < 10_000; i++) if (index.get(`k${i}`) === i) right++;
  t.equal(right, 10_000, 'every key found with its slot');
  t.equal(index.get('nope'), undefined);
  t.equal(index.delete('k5'), true);
  t.equal(index.delete('k5'), false);
  t.equal(index.get('k5'), undefined);
  t.equal(index.size, 9_999);
  index.clear();
  t.same([index.size, index.maps, index.get('k6')], [0, 1, undefined]);
});

t.test('a part that fills its Map overflows into another', async (t) => {
  const index = new SlotIndex(10, 50);
  for (let i = 0; i < 5_000; i++) index.set(`key:${i}`, i);
  t.ok(index.maps > PARTS, `overflow Maps (${index.maps})`);
  let right = 0;
  for (let i = 0; i < 5_000; i++) if (index.get(`key:${i}`) === i) right++;
  t.equal(right, 5_000);
  for (let i = 0; i < 5_000; i += 2) index.delete(`key:${i}`);
  t.equal(index.size, 2_500);
  t.equal(index.get('key:1'), 1);
  t.equal(index.get('key:2'), undefined);
});

t.test('keys that differ anywhere spread over the parts', async (t) => {
  const shapes: [string, (i: number) => string][] = [
    ['counter suffix', (i) => `key:${i}`],
    ['id in the middle', (i) => `user:${i}:profile`],
    ['zero-padded', (i) => `k${String(i).padStart(12, '0')}`],
    ['long keys', (i) => `${'x'.repeat(100)}${i}${'y'.repeat(100)}`],
  ];
  const n = 64_000;
  for (const [name, key] of shapes) {
    const counts = new Array<number>(PARTS).fill(0);
    for (let i = 0; i < n; i++) counts[partOf(key(i))]!++;
    const mean = n / PARTS;
    t.ok(Math.max(...counts) < 1.5 * mean, `${name}: largest part ${Math.max(...counts)} (mean ${mean})`);
    t.ok(Math.min(...counts) > 0.5 * mean, `${name}: smallest part ${Math.min(...counts)}`);
  }
  t.equal(partOf(''), partOf(''), 'the empty key has a part');
});
