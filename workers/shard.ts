// The shard worker entry: a thin adapter that moves messages between the coordinator's port and
// the shard's store. It must never hold logic a test cannot reach through workers/execute.ts.
import { BroadcastChannel, workerData } from 'node:worker_threads';
import type { FromShard, MembershipEvent, ShardInit, ToShard } from '../src/protocol.js';
import { takeEffects } from './effects.js';
import { Shard, executeBatch } from './execute.js';
import { GroupCounts } from './group-counts.js';
import { ShardStore } from './store.js';

const init = workerData as ShardInit;
if (init.faults && init.bootFault === true) process.exit(3);
const port = init.port!;
const store = new ShardStore({ maxBytes: init.maxBytes, policy: init.policy });
const shard = new Shard(store);
/** Keys of ranges this shard is handing over: their changes here are the new owner's to report. */
const handedOver = (key: string): boolean => shard.migration.handedOver(key);
const effects = (): ReturnType<typeof takeEffects> => {
  const e = takeEffects(store, shard.migration.active ? handedOver : undefined);
  // Keys exported by this batch are the new owner's from the next one on.
  shard.migration.settleExports();
  return e;
};
if (init.replicate === true) store.changes = new Set();
if (init.groups !== undefined) store.groups = new GroupCounts(init.groups);
let epoch = init.epoch;

// Membership announcements: informational only (routing never depends on them, DESIGN §1).
const channel = new BroadcastChannel(init.channelName);
channel.onmessage = (event) => {
  store.noteAnnouncement((event as MessageEvent).data as MembershipEvent);
};
channel.unref();

// Active expiry: a bounded sweep ten times a second; what it removes goes to replication.
// A budget lowered below what the shard holds is reached a bounded step at a time (LRU).
setInterval(() => {
  store.sweep();
  store.trim();
  const e = effects();
  if (e !== null) send({ t: 'effects', effects: e.bytes }, [e.bytes]);
}, 100).unref();

function send(msg: FromShard, transfer?: ArrayBuffer[]): void {
  if (transfer === undefined) port.postMessage(msg);
  else port.postMessage(msg, transfer);
}

port.on('message', (msg: ToShard) => {
  switch (msg.t) {
    case 'batch': {
      if (msg.epoch !== epoch) {
        // The values' bytes go back with the refusal: the coordinator routes those SETs again.
        if (msg.bytes === undefined) send({ t: 'wrong-epoch', id: msg.id, epoch });
        else send({ t: 'wrong-epoch', id: msg.id, epoch, bytes: msg.bytes }, [msg.bytes]);
        return;
      }
      const { results, errors, transfer, bytes } = executeBatch(shard, msg.ops, msg.bytes, msg.base);
      const reply: FromShard = { t: 'reply', id: msg.id, results, keys: store.size };
      if (errors !== undefined) reply.errors = errors;
      const counts = store.groups?.take();
      if (counts !== undefined) reply.counts = counts;
      let moved = transfer;
      if (bytes !== undefined) {
        reply.bytes = bytes;
        moved = moved === undefined ? [bytes] : [...moved, bytes];
      }
      const e = effects();
      if (e !== null) {
        reply.effects = e.bytes;
        if (e.flushes > 0) reply.flushes = e.flushes;
        moved = moved === undefined ? [e.bytes] : [...moved, e.bytes];
      }
      send(reply, moved);
      return;
    }
    case 'ping': {
      const counts = store.groups?.take();
      send(counts === undefined ? { t: 'pong', id: msg.id, keys: store.size } : { t: 'pong', id: msg.id, keys: store.size, counts });
      return;
    }
    case 'budget':
      store.setMaxBytes(msg.maxBytes);
      return;
    case 'groups':
      store.groups ??= new GroupCounts(msg.table);
      store.groups.reset(msg.table, (fn) => store.eachKey(fn));
      return;
    case 'epoch':
      epoch = msg.epoch;
      return;
    case 'replicate':
      store.changes ??= new Set();
      return;
    case 'fault':
      if (!init.faults) return;
      if (msg.kind === 'exit' || msg.kind === 'boot-loop') process.exit(1);
      if (msg.kind === 'throw') throw new Error(`fault injected in shard ${init.name}`);
      // 'hang': a busy loop that only the watchdog can end.
      for (;;);
  }
});

send({ t: 'ready', shardId: init.shardId });
