// The shard worker entry: a thin adapter between the coordinator's port and the shard's runner
// (workers/runner.ts). It must never hold logic a test cannot reach through the runner.
import { BroadcastChannel, workerData } from 'node:worker_threads';
import type { FromShard, MembershipEvent, ShardInit, ToShard } from '../src/protocol.js';
import { Shard } from './execute.js';
import { GroupCounts } from './group-counts.js';
import { ShardRunner } from './runner.js';
import { ShardStore } from './store.js';

const init = workerData as ShardInit;
if (init.faults && init.bootFault === true) process.exit(3);
const port = init.port!;
const store = new ShardStore({ maxBytes: init.maxBytes, policy: init.policy, ...(init.memory ? { memory: init.memory } : {}) });
if (init.replicate === true) store.changes = new Set();
if (init.groups !== undefined) store.groups = new GroupCounts(init.groups);
const send = (msg: FromShard, transfer?: ArrayBuffer[]): void => {
  if (transfer === undefined) port.postMessage(msg);
  else port.postMessage(msg, transfer);
};
store.table.onSegment = (segment) => send({ t: 'segment', segment });
const runner = new ShardRunner(new Shard(store), { send, epoch: init.epoch });

// Membership announcements: informational only (routing never depends on them, DESIGN §1).
const channel = new BroadcastChannel(init.channelName);
channel.onmessage = (event) => {
  store.noteAnnouncement((event as MessageEvent).data as MembershipEvent);
};
channel.unref();

// Active expiry: a bounded sweep ten times a second; what it removes goes to replication.
setInterval(() => runner.tick(), 100).unref();

port.on('message', (msg: ToShard) => {
  if (msg.t !== 'fault') {
    runner.receive(msg);
    return;
  }
  if (!init.faults) return;
  if (msg.kind === 'exit' || msg.kind === 'boot-loop') process.exit(1);
  if (msg.kind === 'throw') throw new Error(`fault injected in shard ${init.name}`);
  // 'hang': a busy loop that only the watchdog can end.
  for (;;);
});

send({ t: 'ready', shardId: init.shardId });
