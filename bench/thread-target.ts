// The worker-thread target driver of bench:embedded: runs the same closed-loop lanes inside a worker
// thread, on a target the worker builds itself from a module path and an export name (a
// TargetFactory), and reports the same rows. The parent may prepare data to send along (e.g. a
// handle's ports). It never measures in the parent thread: every figure comes from the worker.
import { once } from 'node:events';
import { type TransferListItem, Worker } from 'node:worker_threads';
import type { LanePlan, Result } from './embedded-targets.js';

/** What the parent thread prepares before the worker starts, and how it cleans up after. */
export interface ThreadSetup {
  /** Passed to the factory as its second argument. */
  data: unknown;
  /** Transferred with `data` (MessagePorts, ArrayBuffers). */
  transfer: TransferListItem[];
  close(): Promise<void>;
}

/** A target built inside a worker thread: `exportName` of `module` is a TargetFactory. */
export interface ThreadTargetSpec {
  /** A file URL (`new URL('./x.js', import.meta.url).href`) the worker imports. */
  module: string;
  exportName: string;
  /** Runs in the parent thread first; optional. */
  setup?: (plan: LanePlan) => Promise<ThreadSetup>;
}

/** What the worker receives. */
export interface ThreadTargetData {
  name: string;
  module: string;
  exportName: string;
  plan: LanePlan;
  data: unknown;
}

const WORKER = new URL('./thread-target-worker.js', import.meta.url);

/** Runs `plan` on the spec's target inside a new worker thread; resolves with its rows once the worker ends. */
export async function runInThread(name: string, spec: ThreadTargetSpec, plan: LanePlan): Promise<Result[]> {
  const setup = (await spec.setup?.(plan)) ?? { data: undefined, transfer: [], close: async () => {} };
  try {
    const workerData: ThreadTargetData = { name, module: spec.module, exportName: spec.exportName, plan, data: setup.data };
    const worker = new Worker(WORKER, { workerData, transferList: setup.transfer });
    let rows: Result[] | undefined;
    worker.on('message', (m: Result[]) => {
      rows = m;
    });
    const [code] = (await once(worker, 'exit')) as [number];
    if (rows === undefined) throw new Error(`thread target ${name}: the worker exited (${code}) without results`);
    return rows;
  } finally {
    await setup.close();
  }
}
