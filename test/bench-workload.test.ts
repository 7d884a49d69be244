// The workload model of `shardcache bench`: seeded op and key choices with the shapes they
// promise — preset mixes in their ratios, zipfian skew as the formula gives it, uniform spread,
// latest favouring new keys — clear errors for bad specs, and the run's progress reports.
import t from 'tap';
import { runBench } from '../src/bench/runner.js';
import { embeddedTarget } from '../src/bench/targets.js';
import { KeyChooser, OpChooser, PRESETS, Rng, Zipfian, parseMix, parseValueSize, valueSizer } from '../src/bench/workload.js';

const N = 200_000;

function counts<T>(draw: () => T, n = N): Map<T, number> {
  const m = new Map<T, number>();
  for (let i = 0; i < n; i++) {
    const v = draw();
    m.set(v, (m.get(v) ?? 0) + 1);
  }
  return m;
}

t.test('the same seed gives the same sequence', async (t) => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 5 }, () => a.next());
  t.same(
    Array.from({ length: 5 }, () => b.next()),
    xs,
  );
  t.not(c.next(), xs[0]);
  t.ok(xs.every((x) => x >= 0 && x < 1));
});

t.test('preset mixes come out in their ratios', async (t) => {
  for (const [name, preset] of Object.entries(PRESETS)) {
    const chooser = new OpChooser(preset.mix, new Rng(7));
    const got = counts(() => chooser.next());
    t.equal(got.size, Object.keys(preset.mix).length, `${name}: only its ops`);
    for (const [op, weight] of Object.entries(preset.mix)) {
      const share = (got.get(op as never) ?? 0) / N;
      t.ok(Math.abs(share - weight / 100) < 0.01, `${name}: ${op} ${(share * 100).toFixed(1)}% (want ${weight}%)`);
    }
  }
});

t.test('zipfian: rank i drawn in proportion to 1/(i+1)^θ', async (t) => {
  const n = 1000;
  const theta = 0.99;
  const z = new Zipfian(n, theta, new Rng(1));
  const got = counts(() => z.next());
  let zetan = 0;
  for (let i = 1; i <= n; i++) zetan += 1 / i ** theta;
  for (const rank of [0, 1]) {
    const want = 1 / (rank + 1) ** theta / zetan;
    const share = (got.get(rank) ?? 0) / N;
    t.ok(Math.abs(share - want) < 0.01, `rank ${rank}: ${(share * 100).toFixed(2)}% (want ${(want * 100).toFixed(2)}%)`);
  }
  t.ok(
    [...got.keys()].every((k) => k >= 0 && k < n),
    'every rank in range',
  );
  t.ok((got.get(0) ?? 0) > 10 * (got.get(99) ?? 0), 'skewed');
  t.throws(() => new Zipfian(0, 0.99, new Rng(1)), RangeError);
  t.throws(() => new Zipfian(10, 1, new Rng(1)), /theta must be between 0 and 1/);
});

t.test('key choosers: uniform spreads, zipfian concentrates (scrambled), latest favours new keys', async (t) => {
  const keys = 1000;
  const uniform = new KeyChooser('uniform', keys, new Rng(3));
  const u = counts(() => uniform.next());
  t.equal(u.size, keys, 'uniform reaches every key');
  t.ok(Math.max(...u.values()) < (3 * N) / keys, 'and none is hot');
  const zipf = new KeyChooser('zipfian', keys, new Rng(3));
  const z = counts(() => zipf.next());
  const top = [...z.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  t.ok(top.reduce((s, [, c]) => s + c, 0) / N > 0.3, 'the 10 hottest keys take over 30%');
  t.notSame(
    top.map(([k]) => k).sort((a, b) => a - b),
    Array.from({ length: 10 }, (_, i) => i),
    'hot keys are scattered, not 0..9',
  );
  const latest = new KeyChooser('latest', keys, new Rng(3));
  for (let i = 0; i < 100; i++) latest.insert();
  t.equal(latest.keys, keys + 100);
  const l = counts(() => latest.next(), 50_000);
  const newest = [...l.entries()].filter(([k]) => k >= keys + 90).reduce((s, [, c]) => s + c, 0);
  t.ok(newest / 50_000 > 0.3, `the 10 newest keys get ${((newest / 50_000) * 100).toFixed(0)}% of reads`);
  t.ok(
    [...l.keys()].every((k) => k >= 0 && k < keys + 100),
    'only keys that exist',
  );
});

t.test('mix, value size: parsed, with clear errors', async (t) => {
  t.same(parseMix('get=90, set=10'), { get: 90, set: 10 });
  t.same(parseMix('mget=1.5,incr=0'), { mget: 1.5, incr: 0 });
  t.throws(() => parseMix('get'), /op=weight/);
  t.throws(() => parseMix('scan=1'), /unknown op "scan"/);
  t.throws(() => parseMix('get=1,get=2'), /appears twice/);
  t.throws(() => new OpChooser({ get: 0 }, new Rng(1)), /at least one op/);
  t.same(parseValueSize('100'), [100, 100]);
  t.same(parseValueSize('64-1024'), [64, 1024]);
  t.throws(() => parseValueSize('10-5'), /N or MIN-MAX/);
  t.throws(() => parseValueSize('big'), /N or MIN-MAX/);
  const size = valueSizer([10, 12], new Rng(5));
  const sizes = new Set(Array.from({ length: 1000 }, size));
  t.same([...sizes].sort(), [10, 11, 12]);
  t.equal(valueSizer([7, 7], new Rng(5))(), 7);
});

t.test('the run reports its progress while it lasts, and stops by itself', async (t) => {
  const target = await embeddedTarget(1);
  t.teardown(() => target.close());
  const seen: [number, number][] = [];
  const r = await runBench(
    target,
    {
      mix: { get: 1 },
      distribution: 'uniform',
      theta: 0.99,
      keys: 100,
      valueSize: [10, 10],
      mgetKeys: 2,
      connections: 2,
      pipeline: 2,
      durationMs: 1000,
      warmupMs: 0,
      preload: true,
      seed: 1,
    },
    (ops, done) => seen.push([ops, done]),
  );
  t.ok(seen.length >= 3, `${seen.length} progress reports in 1 s`);
  t.ok(
    seen.every(([ops, done], i) => i === 0 || (ops >= seen[i - 1]![0] && done >= seen[i - 1]![1])),
    'never going back',
  );
  t.ok(seen.every(([, done]) => done >= 0 && done <= 1));
  t.ok(r.ops >= seen[seen.length - 1]![0], 'the result counts at least what was reported');
});

t.test('no percentile is reported above the max (HDR buckets round up)', async (t) => {
  // Ops of ~20 ms: HDR keeps 16 µs buckets there, whose tops mostly lie above the exact max.
  const slow = {
    name: 'slow',
    get: () => new Promise((r) => setTimeout(r, 20)),
    set: async () => true,
    del: async () => 0,
    incr: async () => 1,
    mget: async () => [],
    close: async () => undefined,
  };
  const r = await runBench(slow, {
    mix: { get: 1 },
    distribution: 'uniform',
    theta: 0.99,
    keys: 10,
    valueSize: [1, 1],
    mgetKeys: 1,
    connections: 1,
    pipeline: 1,
    ops: 10,
    warmupMs: 0,
    preload: false,
    seed: 1,
  });
  for (const f of r.perOp) t.ok(f.p50 <= f.p90 && f.p90 <= f.p99 && f.p99 <= f.p999 && f.p999 <= f.max, `ordered: ${JSON.stringify(f)}`);
});
