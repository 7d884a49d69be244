// The worker entry of bench/thread-target.ts: imports the factory it was named, builds the target
// in this thread, runs the plan's lanes here and posts the rows. It never touches the parent's data
// beyond what was sent to it.
import { parentPort, workerData } from 'node:worker_threads';
import { runPlan, type TargetFactory } from './embedded-targets.js';
import type { ThreadTargetData } from './thread-target.js';

const { name, module, exportName, plan, data } = workerData as ThreadTargetData;
const factory = (await import(module))[exportName] as TargetFactory | undefined;
if (typeof factory !== 'function') throw new Error(`thread target ${name}: ${module} exports no function ${exportName}`);
parentPort!.postMessage(await runPlan(name, await factory(plan, data), plan));
