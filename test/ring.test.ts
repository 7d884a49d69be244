// The ring: distribution, minimal movement on add, exact restore on remove, stable placement
// across processes, and an owner table checkable by hand with an identity hash.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { fingerprint32 } from '../src/hash.js';
import { HashRing } from '../src/ring.js';

function ring3(virtualNodes = 256): HashRing {
  const r = new HashRing({ virtualNodes, hash: fingerprint32 });
  for (let id = 1; id <= 3; id++) r.add(id, `node-${id}`);
  return r;
}

/** 1M pseudo-random keys (a fixed LCG, so the test is the same every run). */
function keyHashes(n: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = fingerprint32(`user:${x.toString(36)}:${i}`);
  }
  return out;
}

const hashes = keyHashes(1_000_000);

t.test('1M keys over 3 shards: largest shard ≤ 1.10 × mean', async (t) => {
  const r = ring3();
  const counts = new Map<number, number>();
  for (const h of hashes) counts.set(r.ownerOf(h), (counts.get(r.ownerOf(h)) ?? 0) + 1);
  t.same([...counts.keys()].sort(), [1, 2, 3]);
  const max = Math.max(...counts.values());
  t.ok(max <= 1.1 * (hashes.length / 3), `largest shard ${max} vs mean ${hashes.length / 3}`);
});

t.test('adding a 4th shard moves 20–30% of keys, all to the new shard; removing it restores placement', async (t) => {
  const r = ring3();
  const before = new Int32Array(hashes.length);
  for (let i = 0; i < hashes.length; i++) before[i] = r.ownerOf(hashes[i]!);
  const epoch = r.epoch;
  r.add(4, 'node-4');
  t.equal(r.epoch, epoch + 1, 'epoch increases on add');
  let moved = 0;
  let elsewhere = 0;
  hashes.forEach((h, i) => {
    const o = r.ownerOf(h);
    if (o !== before[i]) {
      moved++;
      if (o !== 4) elsewhere++;
    }
  });
  t.ok(moved >= 0.2 * hashes.length && moved <= 0.3 * hashes.length, `moved ${moved}`);
  t.equal(elsewhere, 0, 'every moved key moved to the new shard');
  r.remove(4);
  t.equal(r.epoch, epoch + 2, 'epoch increases on remove');
  let changed = 0;
  hashes.forEach((h, i) => {
    if (r.ownerOf(h) !== before[i]) changed++;
  });
  t.equal(changed, 0, 'placement after remove is the placement before add');
});

t.test('the slice table agrees with a binary search everywhere', async (t) => {
  for (const vnodes of [1, 7, 256]) {
    const r = ring3(vnodes);
    let wrong = 0;
    for (const h of hashes.subarray(0, 200_000)) if (r.ownerOf(h) !== r.preferenceList(h, 1)[0]) wrong++;
    for (const h of [0, 1, 65535, 65536, 0xffffffff, 0xfffeffff]) if (r.ownerOf(h) !== r.preferenceList(h, 1)[0]) wrong++;
    t.equal(wrong, 0, `${vnodes} virtual nodes`);
  }
});

t.test('placement is identical in another process', async (t) => {
  const r = ring3();
  const sample = Array.from(hashes.subarray(0, 2000), (h) => r.ownerOf(h));
  const script = fileURLToPath(new URL('./fixtures/ring-placement.js', import.meta.url));
  const out = JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8' })) as { checksum: number; owners: number[] };
  t.equal(out.checksum, r.checksum(), 'same ring checksum');
  t.same(out.owners, sample, 'same owners for the same keys');
});

t.test('owner table by hand with an identity hash', async (t) => {
  // Points: node-A#0 → 100, node-A#1 → 300, node-B#0 → 200, node-B#1 → 300 (tie with A).
  const points: Record<string, number> = { 'A#0': 100, 'A#1': 300, 'B#0': 200, 'B#1': 300 };
  const r = new HashRing({ virtualNodes: 2, hash: (s) => points[String(s)] ?? Number(s) });
  r.add(1, 'A');
  r.add(2, 'B');
  t.equal(r.ownerOf(50), 1, 'below the first point → first point (A#0)');
  t.equal(r.ownerOf(100), 1, 'on a point → that point');
  t.equal(r.ownerOf(150), 2, 'B#0 at 200');
  t.equal(r.ownerOf(250), 1, 'tie at 300 breaks on shard id: A (1) first');
  t.equal(r.ownerOf(301), 1, 'past the last point wraps to the first');
  t.same(r.preferenceList(250, 2), [1, 2], 'replicas: next distinct shard');
  t.same(r.preferenceList(250, 5), [1, 2], 'never more than the shards there are');
  t.same(r.shardIds(), [1, 2]);
  t.equal(r.nameOf(2), 'B');
});

t.test('bad input', async (t) => {
  t.throws(() => new HashRing({ virtualNodes: 0, hash: fingerprint32 }), { code: 'EINVAL' });
  const r = ring3(8);
  t.throws(() => r.add(1, 'again'), { code: 'EINVAL' });
  t.throws(() => r.remove(9), { code: 'EINVAL' });
  const empty = new HashRing({ virtualNodes: 4, hash: fingerprint32 });
  t.equal(empty.ownerOf(123), -1, 'empty ring owns nothing');
  t.same(empty.preferenceList(1, 2), []);
});
