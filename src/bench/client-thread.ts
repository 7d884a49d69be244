// One load generator thread of `shardcache bench` (a piscina task): opens its own connections to
// the network target, preloads its share of the keys, waits until every thread is ready, runs its
// share of the workload and returns its figures with the HDR histograms encoded for merging.
import * as hdr from 'hdr-histogram-js';
import { type BenchOptions, runBench } from './runner.js';
import { networkTarget, type TargetSpec } from './targets.js';
import type { BenchOp } from './workload.js';

/** What the bench's main thread hands each generator thread. */
export interface ClientTask {
  spec: TargetSpec;
  thread: number;
  threads: number;
  options: BenchOptions;
  /** A reply later than this (ms) ends the run; 0: no limit. */
  timeoutMs: number;
  /** Int32Array: [0] threads ready, [1] 0 wait / 1 go / 2 abort. */
  control: SharedArrayBuffer;
  /** Float64Array: [2t] ops measured by thread t so far, [2t+1] its share done (0..1). */
  progress: SharedArrayBuffer;
}

/** A thread's figures, histograms as compressed base64. */
export interface ClientResult {
  seconds: number;
  ops: number;
  allOps: number;
  errors: Partial<Record<BenchOp, number>>;
  firstError: string | null;
  histograms: Partial<Record<BenchOp, string>>;
  startLag: string | null;
}

export const READY = 0;
export const GO = 1;

export default async function benchClient(task: ClientTask): Promise<ClientResult> {
  const control = new Int32Array(task.control);
  const progress = new Float64Array(task.progress);
  const target = await networkTarget(task.spec, task.options.connections, task.timeoutMs);
  try {
    const ready = async (): Promise<void> => {
      Atomics.add(control, READY, 1);
      Atomics.notify(control, READY);
      const w = Atomics.waitAsync(control, GO, 0);
      if (w.async) await w.value;
      if (Atomics.load(control, GO) !== 1) throw new Error('aborted: another load generator thread failed');
    };
    const stop = (): boolean => Atomics.load(control, GO) === 2;
    const part = { part: task.thread, of: task.threads };
    const r = await runBench(target, { ...task.options, preloadPart: part, ready, stop }, (ops, done) => {
      progress[2 * task.thread] = ops;
      progress[2 * task.thread + 1] = done;
    });
    const errors: Partial<Record<BenchOp, number>> = {};
    for (const f of r.perOp) if (f.errors > 0) errors[f.op] = f.errors;
    const histograms: Partial<Record<BenchOp, string>> = {};
    for (const [op, h] of r.histograms) histograms[op] = hdr.encodeIntoCompressedBase64(h);
    const startLag = r.startLag === null ? null : hdr.encodeIntoCompressedBase64(r.startLag);
    return { seconds: r.seconds, ops: r.ops, allOps: r.allOps, errors, firstError: r.firstError, histograms, startLag };
  } finally {
    await target.close();
  }
}
