// `shardcache bench`: a workload (YCSB preset or custom mix) against a target (embedded, resp://,
// http://), closed loop or open loop at a fixed rate, then throughput and latency percentiles per
// op from HDR histograms; --json for machines; --compare for two targets taken alternately.
import { writeFile } from 'node:fs/promises';
import { Command, Errors, Flags } from '@oclif/core';
import { Presets, SingleBar } from 'cli-progress';
import type * as hdr from 'hdr-histogram-js';
import { type MedianFigures, medians, type Ratios, ratios } from '../bench/compare.js';
import { type BenchOptions, type BenchResult, newHistogram, type OpFigures, type Progress, runBench } from '../bench/runner.js';
import { failLine } from '../commands-shared/rest-command.js';
import { checkOps, embeddedTarget, parseTarget, probeHttp, type TargetSpec } from '../bench/targets.js';
import { defaultThreads, type GeneratorCpu, runThreaded } from '../bench/threads.js';
import { type KeyDistribution, PRESETS, type PresetName, parseMix, parseValueSize } from '../bench/workload.js';

/** A flag parser that turns a RangeError of the workload model into a usage error (exit 2). */
function usage<I, T>(parse: (input: I) => T): (input: I) => Promise<T> {
  return async (input) => {
    try {
      return parse(input);
    } catch (err) {
      throw new Errors.CLIError((err as Error).message, { exit: 2 });
    }
  };
}

/** One run's figures and the CPU it cost the bench process. */
type Run = BenchResult & { cpu: GeneratorCpu & { includesServer: boolean } };

const COLUMNS = ['count', 'errors', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'];
const LATENCIES = ['p50', 'p90', 'p99', 'p999', 'max'] as const;
const fmt = (v: number): string => v.toLocaleString('en');

export default class Bench extends Command {
  static override summary = 'Benchmark a cache with a YCSB-style workload.';
  static override description =
    'Runs a workload against --target and prints throughput and latency percentiles (p50, p90, p99, p99.9, max, in µs) ' +
    'per operation, from HDR histograms. Targets: embedded (a fresh cluster in this process), resp://[user:password@]host:port ' +
    '(shardcache or any Redis-protocol server) and http://host:port (shardcache REST: get, set, del only). Network targets ' +
    'are driven from --threads load generator threads (piscina), each with its own connections; their CPU use is shown. ' +
    'Closed loop by default (--connections lanes, each keeping --pipeline ops in flight); --rate N runs an open loop of N ' +
    'ops/s whose latencies count from when each op was due, so queueing is not hidden. Workloads: the YCSB presets A ' +
    '(50/50 read/update), B (95/5), C (read only), D (read latest), F (read-modify-write), or --mix get=90,set=10,... ' +
    '(ops: get set del incr mget update insert rmw). --compare TARGET2 runs both targets alternately (--pairs times) and ' +
    'prints medians and ratios. A progress bar with the current rate shows on a terminal.';

  static override examples = [
    '<%= config.bin %> bench --workload B --duration 10',
    '<%= config.bin %> bench --target resp://127.0.0.1:6380 --workload A --pipeline 16 --duration 10',
    '<%= config.bin %> bench --target resp://127.0.0.1:6380 --compare resp://127.0.0.1:6379 --pairs 3 --duration 5',
    '<%= config.bin %> bench --target http://127.0.0.1:8080 --rate 5000 --duration 10 --json',
    '<%= config.bin %> bench --mix get=80,set=15,mget=5 --distribution uniform --ops 200000 --json',
  ];

  static override flags = {
    target: Flags.string({ description: 'embedded, resp://host:port or http://host:port', default: 'embedded' }),
    compare: Flags.string({ description: 'a second target, run alternately with --target (A B A B...)' }),
    password: Flags.string({
      description: 'password of network targets whose URL has none (AUTH on resp://, HTTP Basic on http://)',
      env: 'SHARDCACHE_PASSWORD',
    }),
    pairs: Flags.integer({ description: 'runs of each target with --compare (default 3)', min: 1, max: 100, dependsOn: ['compare'] }),
    shards: Flags.integer({ description: 'shards of the embedded cluster', default: 3, min: 1, max: 256 }),
    threads: Flags.integer({ description: 'load generator threads for a network target (default: one per core)', min: 1, max: 64 }),
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
    connections: Flags.integer({ description: 'concurrent lanes (connections on a network target)', default: 50, min: 1, max: 10_000 }),
    pipeline: Flags.integer({
      description: 'ops each lane keeps in flight (closed loop; default 1)',
      min: 1,
      max: 1024,
      exclusive: ['rate'],
    }),
    rate: Flags.integer({ description: 'open loop: start this many ops per second, whatever the replies do', min: 1 }),
    timeout: Flags.integer({
      description: 'seconds without a reply after which a network target counts as lost (0: wait for ever)',
      default: 10,
      min: 0,
    }),
    duration: Flags.integer({ description: 'seconds to measure (instead of --ops)', min: 1 }),
    ops: Flags.integer({ description: 'ops to measure', default: 100_000, min: 1 }),
    warmup: Flags.integer({ description: 'seconds run before measuring', default: 0, min: 0 }),
    preload: Flags.boolean({ description: 'write every key once before measuring', default: true, allowNo: true }),
    seed: Flags.integer({ description: 'seed of the op and key choices', default: 1 }),
    json: Flags.boolean({ description: 'print one JSON object instead of the table', default: false }),
    'hdr-out': Flags.string({ description: "write all ops' latency distribution (µs, HdrHistogram .hgrm text) to this file" }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Bench);
    const theta = Number(flags.theta);
    if (!(theta > 0 && theta < 1)) this.error(`--theta must be between 0 and 1 (exclusive), got "${flags.theta}"`, { exit: 2 });
    const valueSize = await usage(parseValueSize)(flags['value-size']);
    const preset = flags.workload === undefined ? undefined : PRESETS[flags.workload as PresetName];
    const mix = (flags.mix as unknown as ReturnType<typeof parseMix> | undefined) ?? preset?.mix ?? PRESETS.C.mix;
    const distribution = (flags.distribution ?? preset?.distribution ?? 'zipfian') as KeyDistribution;
    const specs: TargetSpec[] = [];
    for (const t of flags.compare === undefined ? [flags.target] : [flags.target, flags.compare]) {
      const spec = await usage((input: string) => parseTarget(input, flags.password ?? null))(t);
      await usage((m: typeof mix) => checkOps(spec, m))(mix);
      specs.push(spec);
    }
    if (flags.threads !== undefined && specs.every((x) => x.kind === 'embedded'))
      this.error('--threads applies to network targets (resp://, http://); the embedded target runs in this process', { exit: 2 });
    const hdrOut = flags['hdr-out'];
    // Found unwritable now, not after the run.
    if (hdrOut !== undefined)
      for (const f of hdrFiles(hdrOut, specs.length))
        await writeFile(f, '').catch((err: Error) => failLine(this, `--hdr-out: cannot write ${f}: ${err.message}`));
    const options: BenchOptions = {
      mix,
      distribution,
      theta,
      keys: flags.keys,
      valueSize,
      mgetKeys: flags['mget-keys'],
      connections: flags.connections,
      pipeline: flags.pipeline ?? 1,
      ...(flags.duration === undefined ? { ops: flags.ops } : { durationMs: flags.duration * 1000 }),
      ...(flags.rate === undefined ? {} : { rate: flags.rate }),
      warmupMs: flags.warmup * 1000,
      preload: flags.preload,
      seed: flags.seed,
    };
    const threads = flags.threads ?? defaultThreads(flags.connections, flags.rate);
    const once = (spec: TargetSpec): Promise<Run> => this.#once(spec, options, flags.shards, threads, flags.timeout * 1000);
    const about = {
      workload: flags.workload ?? (flags.mix === undefined ? 'C' : 'custom'),
      mix,
      distribution,
      loop: flags.rate === undefined ? 'closed' : 'open',
      rate: flags.rate ?? null,
    };

    if (specs.length === 1) {
      const r = await once(specs[0]!);
      if (hdrOut !== undefined) await writeHgrm(this, hdrFiles(hdrOut, 1)[0]!, r.histogram);
      if (flags.json) {
        this.log(JSON.stringify({ ...figures(r), ...about }));
        return;
      }
      if (flags.rate !== undefined) this.log(`open loop at ${fmt(flags.rate)} ops/s; latencies count from when each op was due`);
      this.#table(r);
      return;
    }

    // A B A B ...: both targets see the same machine state as often as each other.
    const runs: { pair: number; side: 'a' | 'b'; run: Run }[] = [];
    const pairs = flags.pairs ?? 3;
    for (let pair = 1; pair <= pairs; pair++) {
      runs.push({ pair, side: 'a', run: await once(specs[0]!) });
      runs.push({ pair, side: 'b', run: await once(specs[1]!) });
    }
    const a = medians(runs.filter((r) => r.side === 'a').map((r) => r.run));
    const b = medians(runs.filter((r) => r.side === 'b').map((r) => r.run));
    const q = ratios(a, b);
    if (hdrOut !== undefined) {
      const [fa, fb] = hdrFiles(hdrOut, 2) as [string, string];
      for (const [side, file] of [
        ['a', fa],
        ['b', fb],
      ] as const) {
        const all = newHistogram();
        for (const r of runs) if (r.side === side) all.add(r.run.histogram);
        await writeHgrm(this, file, all);
      }
    }
    if (flags.json) {
      this.log(
        JSON.stringify({
          compare: true,
          pairs,
          ...about,
          a,
          b,
          ratios: q,
          runs: runs.map((r) => ({ pair: r.pair, side: r.side, ...figures(r.run) })),
        }),
      );
      return;
    }
    this.#compareTable(runs, a, b, q);
  }

  /** One run against `spec`, with a progress bar on a terminal. */
  async #once(spec: TargetSpec, options: BenchOptions, shards: number, threads: number, timeoutMs: number): Promise<Run> {
    const bar = process.stderr.isTTY
      ? new SingleBar(
          { format: ' {bar} {percentage}% | {ops} ops | {rate} ops/s | {target}', stream: process.stderr, hideCursor: true },
          Presets.shades_classic,
        )
      : null;
    // The rate between two reports; the first report (after the preload) has none before it.
    let last: { ops: number; at: number } | null = null;
    bar?.start(1, 0, { ops: 0, rate: 0, target: spec.name });
    const progress: Progress = (ops, done) => {
      const now = performance.now();
      const rate = last === null ? 0 : Math.round(((ops - last.ops) * 1000) / Math.max(1, now - last.at));
      last = { ops, at: now };
      bar?.update(done, { ops: fmt(ops), rate: fmt(rate) });
    };
    try {
      if (spec.kind !== 'embedded') {
        // A target that cannot be reached or is not what it claims: one line, exit 1.
        if (spec.kind === 'http') await probeHttp(spec, timeoutMs).catch((err: Error) => failLine(this, err.message));
        const r = await runThreaded(spec, options, threads, timeoutMs, bar === null ? undefined : progress).catch((err: Error) =>
          failLine(this, err.message),
        );
        return { ...r, cpu: { ...r.cpu, includesServer: false } };
      }
      // Embedded: the cluster's shards run in this process, so its CPU is in the figure too.
      const target = await embeddedTarget(shards);
      let cpuStart = process.cpuUsage();
      let wallStart = performance.now();
      try {
        const ready = async (): Promise<void> => {
          cpuStart = process.cpuUsage();
          wallStart = performance.now();
        };
        const r = await runBench(target, { ...options, ready }, bar === null ? undefined : progress).catch((err: Error) =>
          failLine(this, err.message),
        );
        const used = process.cpuUsage(cpuStart);
        const seconds = (used.user + used.system) / 1e6;
        const wall = (performance.now() - wallStart) / 1000;
        return {
          ...r,
          cpu: {
            threads: 1,
            seconds,
            percentOfCore: Math.round((seconds / wall) * 1000) / 10,
            usPerOp: r.allOps === 0 ? 0 : Math.round((seconds * 1e7) / r.allOps) / 10,
            includesServer: true,
          },
        };
      } finally {
        await target.close();
      }
    } finally {
      bar?.stop();
    }
  }

  #table(r: Run): void {
    this.log(`${r.target}: ${fmt(r.ops)} ops in ${r.seconds.toFixed(2)} s = ${fmt(r.opsPerSec)} ops/s, ${fmt(r.errors)} errors`);
    this.log(`${'op'.padEnd(7)}${COLUMNS.map((h) => h.padStart(12)).join('')}   (µs)`);
    for (const f of r.perOp)
      this.log(
        `${f.op.padEnd(7)}${[f.count, f.errors, f.mean, f.p50, f.p90, f.p99, f.p999, f.max].map((v) => fmt(v).padStart(12)).join('')}`,
      );
    if (r.firstError !== null) this.log(`first error: ${r.firstError}`);
    if (r.startLag !== null) this.log(lagLine(r.startLag));
    this.log(cpuLine(r));
  }

  #compareTable(runs: { pair: number; side: 'a' | 'b'; run: Run }[], a: MedianFigures, b: MedianFigures, q: Ratios): void {
    this.log(`A = ${a.target}, B = ${b.target}: run alternately (A B A B), ${a.runs} runs each; medians`);
    // The bench process's CPU per op beside each run: where it nears the server's, the generator limits.
    const heads = ['A ops/s', 'B ops/s', 'A errors', 'B errors', 'A cpu µs/op', 'B cpu µs/op'];
    this.log(`${'run'.padEnd(7)}${heads.map((h) => h.padStart(13)).join('')}`);
    for (let pair = 1; pair <= a.runs; pair++) {
      const [ra, rb] = (['a', 'b'] as const).map((s) => runs.find((r) => r.pair === pair && r.side === s)!.run) as [Run, Run];
      const cells = [fmt(ra.opsPerSec), fmt(rb.opsPerSec), fmt(ra.errors), fmt(rb.errors), String(ra.cpu.usPerOp), String(rb.cpu.usPerOp)];
      this.log(`${String(pair).padEnd(7)}${cells.map((c) => c.padStart(13)).join('')}`);
    }
    this.log(`${'median'.padEnd(7)}${fmt(a.opsPerSec).padStart(13)}${fmt(b.opsPerSec).padStart(13)}    A/B ${q.opsPerSec ?? '-'}`);
    this.log(`${'op'.padEnd(7)}${'latency'.padStart(8)}${'A µs'.padStart(10)}${'B µs'.padStart(10)}${'A/B'.padStart(8)}`);
    for (const fa of a.perOp) {
      const fb = b.perOp.find((f) => f.op === fa.op);
      const fq = q.perOp.find((f) => f.op === fa.op);
      for (const l of LATENCIES)
        this.log(
          `${fa.op.padEnd(7)}${(l === 'p999' ? 'p99.9' : l).padStart(8)}${fmt(fa[l]).padStart(10)}${(fb === undefined ? '-' : fmt(fb[l])).padStart(10)}${String(fq?.[l] ?? '-').padStart(8)}`,
        );
    }
    const errs = runs.map((r) => r.run.firstError).find((e) => e !== null);
    if (errs !== undefined) this.log(`first error: ${errs}`);
  }
}

/** A run's figures for --json: the histograms reduced to what they say. */
function figures(r: Run): Record<string, unknown> {
  const { histogram: _h, histograms: _hs, startLag, ...rest } = r;
  return { ...rest, startLag: startLag === null ? null : lagOf(startLag) };
}

/** The open loop's start lag: how late the generator started ops after they were due (µs). */
function lagOf(h: hdr.Histogram): { p50: number; p99: number; max: number } {
  const max = h.maxValue;
  return { p50: Math.min(h.getValueAtPercentile(50), max), p99: Math.min(h.getValueAtPercentile(99), max), max };
}

function lagLine(h: hdr.Histogram): string {
  const l = lagOf(h);
  return `generator start lag (ops started after due; in the latencies above): p50 ${fmt(l.p50)} µs, p99 ${fmt(l.p99)} µs, max ${fmt(l.max)} µs`;
}

function cpuLine(r: Run): string {
  const c = r.cpu;
  const what = c.includesServer
    ? 'bench process (embedded cluster included)'
    : `load generator (${c.threads} thread${c.threads === 1 ? '' : 's'})`;
  // An open loop polls for each op's due time: its threads look busy whatever the ops cost.
  const note = r.startLag === null ? '' : ' (open loop: threads poll for due times, so this is not the cost of the ops)';
  return `${what}: ${c.seconds.toFixed(2)} CPU s = ${c.percentOfCore}% of a core, ${c.usPerOp} µs/op${note}`;
}

/** The --hdr-out file(s): FILE alone, or with --compare FILE-a and FILE-b (before any extension). */
function hdrFiles(file: string, count: number): string[] {
  if (count === 1) return [file];
  const m = /^(.*?)(\.[^./\\]*)?$/.exec(file)!;
  return ['a', 'b'].map((side) => `${m[1]}-${side}${m[2] ?? ''}`);
}

/** Writes a latency distribution as HdrHistogram's percentile text (.hgrm), values in µs. */
async function writeHgrm(command: Command, file: string, h: hdr.Histogram): Promise<void> {
  await writeFile(file, h.outputPercentileDistribution(5, 1)).catch((err: Error) =>
    failLine(command, `--hdr-out: cannot write ${file}: ${err.message}`),
  );
}

export type { OpFigures };
