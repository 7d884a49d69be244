// Epochs travel on each shard's own port; the BroadcastChannel only announces. A shard serves ops
// of a new epoch before the broadcast of that epoch arrives (here: long before, as it is sent
// last), and refuses a batch routed under an epoch it has left.
import { BroadcastChannel, MessageChannel, Worker } from 'node:worker_threads';
import t from 'tap';
import { Op, type FromShard, type ShardInit, type ShardStats } from '../src/protocol.js';
import { valueRef } from '../src/value-bytes.js';

t.test('ops of a new epoch do not wait for its broadcast; stale batches are refused', async (t) => {
  const channelName = `epoch-test-${process.pid}`;
  const { port1, port2 } = new MessageChannel();
  const init: ShardInit = {
    shardId: 1,
    name: 'node-1',
    epoch: 1,
    maxBytes: 0,
    policy: 'noeviction',
    channelName,
    faults: false,
    port: port2,
  };
  const worker = new Worker(new URL('../workers/shard.js', import.meta.url), { workerData: init, transferList: [port2], execArgv: [] });
  t.teardown(async () => {
    port1.close();
    await worker.terminate();
  });
  const replies: FromShard[] = [];
  let wake: (() => void) | null = null;
  port1.on('message', (m: FromShard) => {
    replies.push(m);
    wake?.();
  });
  const next = async (): Promise<FromShard> => {
    while (replies.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return replies.shift()!;
  };
  t.match(await next(), { t: 'ready', shardId: 1 });

  port1.postMessage({ t: 'batch', id: 1, epoch: 1, ops: [Op.SET, 'k', 'v1'] });
  t.match(await next(), { t: 'reply', id: 1, results: [true] });

  // The epoch marker on the port, then ops of epoch 2 at once: no broadcast has been sent.
  port1.postMessage({ t: 'epoch', epoch: 2 });
  port1.postMessage({ t: 'batch', id: 2, epoch: 2, ops: [Op.GET, 'k', undefined, Op.SET, 'k', 'v2'] });
  t.match(await next(), { t: 'reply', id: 2, results: ['v1', true] }, 'served under epoch 2 before any broadcast');

  port1.postMessage({ t: 'batch', id: 3, epoch: 1, ops: [Op.SET, 'k', 'stale'] });
  t.match(await next(), { t: 'wrong-epoch', id: 3, epoch: 2 }, 'a batch routed under epoch 1 is refused');
  // A refused batch of SETs whose values travel as bytes gives the bytes back, for routing again.
  const bytes = new TextEncoder().encode('xxstale').buffer;
  port1.postMessage({ t: 'batch', id: 4, epoch: 1, ops: [Op.SET_BYTES, 'k', valueRef(2, 5)], bytes, base: 0 }, [bytes]);
  const refused = (await next()) as { t: string; bytes?: ArrayBuffer };
  t.match(refused, { t: 'wrong-epoch', id: 4, epoch: 2 });
  t.equal(Buffer.from(refused.bytes!).toString(), 'xxstale', 'with its bytes');

  // The broadcast arrives last; the shard takes note of it, nothing else changes.
  const bus = new BroadcastChannel(channelName);
  t.teardown(() => bus.close());
  bus.postMessage({ type: 'epoch', epoch: 2, shards: [1] });
  let stats: ShardStats;
  for (let id = 5; ; id++) {
    port1.postMessage({ t: 'batch', id, epoch: 2, ops: [Op.GET, 'k', undefined, Op.STATS, '', undefined] });
    const r = (await next()) as unknown as { results: [string, ShardStats] };
    t.equal(r.results[0], 'v2', 'the stale batch changed nothing');
    stats = r.results[1];
    if (stats.announcements > 0) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(stats.announcedEpoch, 2, 'the late broadcast is recorded');
});
