// Drives a network target from piscina worker threads (src/bench/client-thread.ts), one client per
// thread, so the load generator is not the single-threaded bottleneck a lone client would be:
// connections, op count, open-loop rate and preload are split between the threads, every thread
// starts measuring at once, and their HDR histograms are merged. The process's CPU time over the
// run is the generator's own cost (nothing else runs in it).
import { availableParallelism } from 'node:os';
import * as hdr from 'hdr-histogram-js';
import { Piscina } from 'piscina';
import type { ClientResult, ClientTask } from './client-thread.js';
import { type BenchOptions, type BenchResult, figuresOf, newHistogram, type Progress } from './runner.js';
import type { TargetSpec } from './targets.js';
import type { BenchOp } from './workload.js';

const CLIENT_URL = new URL('./client-thread.js', import.meta.url).href;

/** CPU the bench process spent over a run: the load generator's cost on a network target. */
export interface GeneratorCpu {
  threads: number;
  /** CPU seconds (user + system) of the whole process from the common start to the end of the run. */
  seconds: number;
  /** Of one core, over the run's wall time. */
  percentOfCore: number;
  /** CPU µs per op completed (warm-up and measured). */
  usPerOp: number;
}

/** Ops per second one generator thread starts comfortably in an open loop. */
const OPEN_LOOP_OPS_PER_THREAD = 100_000;

/**
 * Default generator threads: one per core, no more than there are connections. An open loop
 * waits out sub-millisecond gaps by turning its event loop, which keeps its thread busy, so it
 * takes only the threads its rate needs.
 */
export function defaultThreads(connections: number, rate?: number): number {
  const cores = rate === undefined ? availableParallelism() : Math.min(availableParallelism(), Math.ceil(rate / OPEN_LOOP_OPS_PER_THREAD));
  return Math.max(1, Math.min(connections, cores));
}

/** The `part`-th of `threads` shares of `total`, spread so the shares add up to `total`. */
export function share(total: number, part: number, threads: number): number {
  return Math.floor(total / threads) + (part < total % threads ? 1 : 0);
}

/** Runs the workload on `threads` generator threads against `spec`; resolves with the merged figures; a reply later than `timeoutMs` fails the run. */
export async function runThreaded(
  spec: TargetSpec,
  o: BenchOptions,
  threads: number,
  timeoutMs: number,
  progress?: Progress,
): Promise<BenchResult & { cpu: GeneratorCpu }> {
  // No thread without a connection, or (counting ops) without an op of its own.
  const n = Math.max(
    1,
    Math.min(threads, o.connections, o.durationMs === undefined && o.rate === undefined ? (o.ops ?? threads) : threads),
  );
  const control = new Int32Array(new SharedArrayBuffer(8));
  const shared = new SharedArrayBuffer(16 * n);
  const seen = new Float64Array(shared);
  const pool = new Piscina<ClientTask, ClientResult>({
    filename: CLIENT_URL,
    minThreads: n,
    maxThreads: n,
    // Each task is one long async run: the thread's event loop must turn, not block between tasks.
    atomics: 'disabled',
    idleTimeout: 1000,
  });
  let wallStart = performance.now();
  let cpuStart = process.cpuUsage();
  let failed: unknown = null;
  const abort = (err: unknown): void => {
    failed ??= err;
    Atomics.store(control, 1, 2);
    Atomics.notify(control, 1);
  };
  const runs = Array.from({ length: n }, (_, t) => {
    const options: BenchOptions = {
      ...o,
      connections: share(o.connections, t, n),
      seed: o.seed + t * 7919,
      ...(o.ops === undefined ? {} : { ops: Math.max(1, share(o.ops, t, n)) }),
      // Each thread keeps 1/n of the rate, its ops due between the others' (one schedule, interleaved).
      ...(o.rate === undefined ? {} : { rate: o.rate / n, phaseMs: (t * 1000) / o.rate }),
    };
    return pool
      .run({ spec, thread: t, threads: n, options, timeoutMs, control: control.buffer as SharedArrayBuffer, progress: shared })
      .catch((err) => {
        abort(err);
        throw err;
      });
  });
  const settled = Promise.allSettled(runs);
  let ticker: NodeJS.Timeout | null = null;
  try {
    // Start together once every thread has connected and preloaded its share.
    for (;;) {
      const ready = Atomics.load(control, 0);
      if (ready >= n || failed !== null) break;
      const w = Atomics.waitAsync(control, 0, ready);
      if (w.async) await Promise.race([w.value, settled]);
    }
    if (failed === null) {
      wallStart = performance.now();
      cpuStart = process.cpuUsage();
      Atomics.store(control, 1, 1);
      Atomics.notify(control, 1);
      if (progress !== undefined)
        ticker = setInterval(() => {
          let ops = 0;
          let done = 1;
          for (let t = 0; t < n; t++) {
            ops += seen[2 * t]!;
            done = Math.min(done, seen[2 * t + 1]!);
          }
          progress(ops, done);
        }, 200);
    }
    const results = await settled;
    if (failed !== null) {
      // The first real failure, not the aborts it caused in the other threads.
      throw failed instanceof Error ? new Error(failed.message) : failed;
    }
    const cpu = process.cpuUsage(cpuStart);
    const wall = (performance.now() - wallStart) / 1000;
    const parts = results.map((r) => (r as PromiseFulfilledResult<ClientResult>).value);
    return merge(spec.name, parts, {
      threads: n,
      seconds: (cpu.user + cpu.system) / 1e6,
      percentOfCore: Math.round(((cpu.user + cpu.system) / 1e4 / wall) * 10) / 10,
      usPerOp: 0,
    });
  } finally {
    if (ticker !== null) clearInterval(ticker);
    await pool.destroy();
  }
}

function merge(name: string, parts: ClientResult[], cpu: GeneratorCpu): BenchResult & { cpu: GeneratorCpu } {
  const hists = new Map<BenchOp, hdr.Histogram>();
  const errors = new Map<BenchOp, number>();
  const all = newHistogram();
  let startLag: hdr.Histogram | null = null;
  for (const p of parts) {
    if (p.startLag !== null) {
      startLag ??= newHistogram();
      startLag.add(hdr.decodeFromCompressedBase64(p.startLag, 32, false));
    }
    for (const [op, enc] of Object.entries(p.histograms) as [BenchOp, string][]) {
      const h = hdr.decodeFromCompressedBase64(enc, 32, false);
      let into = hists.get(op);
      if (into === undefined) {
        into = newHistogram();
        hists.set(op, into);
      }
      into.add(h);
      all.add(h);
    }
    for (const [op, e] of Object.entries(p.errors) as [BenchOp, number][]) errors.set(op, (errors.get(op) ?? 0) + e);
  }
  const seconds = Math.max(...parts.map((p) => p.seconds));
  const ops = parts.reduce((s, p) => s + p.ops, 0);
  const allOps = parts.reduce((s, p) => s + p.allOps, 0);
  return {
    target: name,
    seconds,
    ops,
    errors: [...errors.values()].reduce((a, b) => a + b, 0),
    opsPerSec: Math.round(ops / seconds),
    perOp: figuresOf(hists, errors),
    firstError: parts.find((p) => p.firstError !== null)?.firstError ?? null,
    allOps,
    startLag,
    histograms: hists,
    histogram: all,
    cpu: { ...cpu, usPerOp: allOps === 0 ? 0 : Math.round((cpu.seconds * 1e6 * 10) / allOps) / 10 },
  };
}
