// `shardcache bench` against the embedded target, as a user runs it: the JSON shape and its
// figures, the --hdr-out file, usage errors. Small counts: figures are checked for shape and
// consistency, never for speed.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { OpFigures } from '../src/bench/runner.js';
import { cli, clis } from './helpers/cli.js';

t.test('bench --json: per-op figures that add up, and an HDR file of all ops', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shardcache-bench-'));
  const out = join(dir, 'all.hgrm');
  const [a, d] = await clis([
    ['bench', '--workload', 'A', '--ops', '4000', '--keys', '500', '--connections', '8', '--pipeline', '4', '--json', '--hdr-out', out],
    ['bench', '--workload', 'D', '--ops', '2000', '--keys', '500', '--connections', '4', '--json', '--shards', '2'],
  ]);
  t.equal(a!.code, 0, a!.err);
  t.equal(a!.err, '', 'no progress bar when stderr is not a terminal');
  const r = JSON.parse(a!.out) as {
    target: string;
    ops: number;
    errors: number;
    opsPerSec: number;
    seconds: number;
    perOp: OpFigures[];
    workload: string;
    distribution: string;
  };
  t.match(r, { target: 'embedded (3 shards)', workload: 'A', distribution: 'zipfian', errors: 0 });
  t.equal(r.ops, 4000, 'the ops asked for (a multiple of the pipeline depth)');
  t.same(r.perOp.map((f) => f.op).sort(), ['get', 'update']);
  t.equal(
    r.perOp.reduce((s, f) => s + f.count, 0),
    r.ops,
    'per-op counts add up',
  );
  for (const f of r.perOp)
    t.ok(f.p50 <= f.p90 && f.p90 <= f.p99 && f.p99 <= f.p999 && f.p999 <= f.max && f.p50 >= 1, `${f.op}: ordered percentiles`);
  t.ok(
    r.perOp.every((f) => Math.abs(f.count / r.ops - 0.5) < 0.05),
    'A is about 50/50',
  );
  t.ok(r.opsPerSec > 0 && r.seconds > 0);
  // HdrHistogram's percentile text, as its plotter reads it: every op counted.
  const hgrm = readFileSync(out, 'utf8');
  t.match(hgrm, /^\s+Value\s+Percentile\s+TotalCount/m);
  t.match(hgrm, /Total count\s+=\s+4000\b/, 'the .hgrm counts every op');
  const rd = JSON.parse(d!.out) as { perOp: OpFigures[]; distribution: string; target: string };
  t.match(rd, { distribution: 'latest', target: 'embedded (2 shards)' });
  t.same(rd.perOp.map((f) => f.op).sort(), ['get', 'insert']);
});

t.test('bench: table output and usage errors', async (t) => {
  const [table, badMix, both, badTheta, badSize] = await clis([
    ['bench', '--mix', 'get=3,set=1,mget=1,incr=1,del=1,rmw=1', '--ops', '1000', '--keys', '200', '--distribution', 'uniform'],
    ['bench', '--mix', 'scan=1'],
    ['bench', '--workload', 'A', '--mix', 'get=1'],
    ['bench', '--theta', '1'],
    ['bench', '--value-size', '9-3'],
  ]);
  t.equal(table!.code, 0, table!.err);
  t.match(table!.out, /^embedded \(3 shards\): 1,000 ops in [\d.]+ s = [\d,]+ ops\/s, 0 errors\n/);
  for (const op of ['get', 'set', 'mget', 'incr', 'del', 'rmw'])
    t.match(table!.out, new RegExp(`^${op}\\s+[\\d,]+\\s+0\\s`, 'm'), `${op} row`);
  for (const [r, re] of [
    [badMix, /unknown op "scan"/],
    [both, /--mix=get=1 cannot also be provided when using --workload|cannot also be provided/],
    [badTheta, /--theta must be between 0 and 1/],
    [badSize, /N or MIN-MAX/],
  ] as const) {
    t.equal(r!.code, 2, `usage error: ${r!.err.split('\n')[0]}`);
    t.match(r!.err, re);
  }
  const timed = await cli('bench', '--duration', '1', '--warmup', '1', '--keys', '100', '--connections', '2', '--json', '--no-preload');
  const rt = JSON.parse(timed.out) as { seconds: number; ops: number };
  t.ok(rt.seconds >= 1 && rt.seconds < 3 && rt.ops > 0, `--duration 1 after a 1 s warm-up: ${rt.ops} ops in ${rt.seconds} s`);
  const help = await cli('bench', '--help');
  t.match(help.out, /YCSB presets A/);
});
