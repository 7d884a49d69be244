// `shardcache bench`: a workload (YCSB preset or custom mix) against a target, closed loop, then
// throughput and latency percentiles per op from HDR histograms; --json for machines.
import { writeFile } from 'node:fs/promises';
import { Command, Errors, Flags } from '@oclif/core';
import { Presets, SingleBar } from 'cli-progress';
import * as hdr from 'hdr-histogram-js';
import { type BenchResult, runBench } from '../bench/runner.js';
import { embeddedTarget } from '../bench/targets.js';
import { type KeyDistribution, PRESETS, type PresetName, parseMix, parseValueSize } from '../bench/workload.js';

/** A flag parser that turns a RangeError of the workload model into a usage error (exit 2). */
function usage<T>(parse: (input: string) => T): (input: string) => Promise<T> {
  return async (input) => {
    try {
      return parse(input);
    } catch (err) {
      throw new Errors.CLIError((err as Error).message, { exit: 2 });
    }
  };
}

export default class Bench extends Command {
  static override summary = 'Benchmark a cache with a YCSB-style workload.';
  static override description =
    'Runs a workload against TARGET in a closed loop (--connections lanes, each keeping --pipeline ops in flight) ' +
    'and prints throughput and latency percentiles (p50, p90, p99, p99.9, max, in µs) per operation, from HDR ' +
    'histograms. Workloads: the YCSB presets A (50/50 read/update), B (95/5), C (read only), D (read latest), ' +
    'F (read-modify-write), or --mix get=90,set=10,... (ops: get set del incr mget update insert rmw). ' +
    'A progress bar with the current rate shows on a terminal. Targets so far: embedded (a cluster in this process).';

  static override examples = [
    '<%= config.bin %> bench --workload B --duration 10',
    '<%= config.bin %> bench --mix get=80,set=15,mget=5 --distribution uniform --ops 200000 --json',
  ];

  static override flags = {
    target: Flags.string({ description: 'what to benchmark', options: ['embedded'], default: 'embedded' }),
    shards: Flags.integer({ description: 'shards of the embedded cluster', default: 3, min: 1, max: 256 }),
    workload: Flags.string({ description: 'a YCSB preset', options: Object.keys(PRESETS), exclusive: ['mix'] }),
    mix: Flags.string({ description: 'custom op weights, e.g. get=90,set=10', parse: usage(parseMix) as never }),
    distribution: Flags.string({
      description: "key choice (default: the preset's, else zipfian)",
      options: ['uniform', 'zipfian', 'latest'],
    }),
    theta: Flags.string({ description: 'zipfian skew θ, between 0 and 1', default: '0.99' }),
    keys: Flags.integer({ description: 'key space size', default: 100_000, min: 1 }),
    'value-size': Flags.string({ description: 'value bytes: N or MIN-MAX', default: '100' }),
    'mget-keys': Flags.integer({ description: 'keys per MGET', default: 10, min: 1, max: 1000 }),
    connections: Flags.integer({ description: 'concurrent lanes', default: 50, min: 1, max: 10_000 }),
    pipeline: Flags.integer({ description: 'ops each lane keeps in flight', default: 1, min: 1, max: 1024 }),
    duration: Flags.integer({ description: 'seconds to measure (instead of --ops)', min: 1 }),
    ops: Flags.integer({ description: 'ops to measure', default: 100_000, min: 1 }),
    warmup: Flags.integer({ description: 'seconds run before measuring', default: 0, min: 0 }),
    preload: Flags.boolean({ description: 'write every key once before measuring', default: true, allowNo: true }),
    seed: Flags.integer({ description: 'seed of the op and key choices', default: 1 }),
    json: Flags.boolean({ description: 'print one JSON object instead of the table', default: false }),
    'hdr-out': Flags.string({ description: 'write the HDR histogram of all ops (µs) here, compressed base64' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Bench);
    const theta = Number(flags.theta);
    if (!(theta > 0 && theta < 1)) this.error(`--theta must be between 0 and 1 (exclusive), got "${flags.theta}"`, { exit: 2 });
    const valueSize = await usage(parseValueSize)(flags['value-size']);
    const preset = flags.workload === undefined ? undefined : PRESETS[flags.workload as PresetName];
    const mix = (flags.mix as unknown as ReturnType<typeof parseMix> | undefined) ?? preset?.mix ?? PRESETS.C.mix;
    const distribution = (flags.distribution ?? preset?.distribution ?? 'zipfian') as KeyDistribution;
    const target = await embeddedTarget(flags.shards);
    // A live bar with the current rate on a terminal; nothing when stderr is not one (CI, pipes).
    const bar = process.stderr.isTTY
      ? new SingleBar(
          { format: ' {bar} {percentage}% | {ops} ops | {rate} ops/s', stream: process.stderr, hideCursor: true },
          Presets.shades_classic,
        )
      : null;
    let last = { ops: 0, at: performance.now() };
    bar?.start(1, 0, { ops: 0, rate: 0 });
    const progress = (ops: number, done: number): void => {
      const now = performance.now();
      const rate = Math.round(((ops - last.ops) * 1000) / Math.max(1, now - last.at));
      last = { ops, at: now };
      bar?.update(done, { ops: ops.toLocaleString('en'), rate: rate.toLocaleString('en') });
    };
    let result: BenchResult;
    try {
      result = await runBench(
        target,
        {
          mix,
          distribution,
          theta,
          keys: flags.keys,
          valueSize,
          mgetKeys: flags['mget-keys'],
          connections: flags.connections,
          pipeline: flags.pipeline,
          ...(flags.duration === undefined ? { ops: flags.ops } : { durationMs: flags.duration * 1000 }),
          warmupMs: flags.warmup * 1000,
          preload: flags.preload,
          seed: flags.seed,
        },
        bar === null ? undefined : progress,
      );
    } finally {
      bar?.stop();
      await target.close();
    }
    if (flags['hdr-out'] !== undefined) await writeFile(flags['hdr-out'], `${hdr.encodeIntoCompressedBase64(result.histogram)}\n`);
    const { histogram: _h, ...figures } = result;
    if (flags.json) {
      this.log(JSON.stringify({ ...figures, workload: flags.workload ?? (flags.mix === undefined ? 'C' : 'custom'), mix, distribution }));
      return;
    }
    this.log(
      `${result.target}: ${result.ops.toLocaleString('en')} ops in ${result.seconds.toFixed(2)} s = ${result.opsPerSec.toLocaleString('en')} ops/s, ${result.errors} errors`,
    );
    this.log(
      `${'op'.padEnd(7)}${['count', 'errors', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'].map((h) => h.padStart(10)).join('')}   (µs)`,
    );
    for (const f of result.perOp) {
      this.log(
        `${f.op.padEnd(7)}${[f.count, f.errors, f.mean, f.p50, f.p90, f.p99, f.p999, f.max].map((v) => v.toLocaleString('en').padStart(10)).join('')}`,
      );
    }
  }
}
