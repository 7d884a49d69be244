// The membership bus: a BroadcastChannel on which the coordinator announces joins, leaves,
// crashes and epochs to every shard and to any listener in the host app. Announcements only:
// routing never depends on them (the epoch marker travels on each shard's own port).
import { BroadcastChannel } from 'node:worker_threads';
import type { MembershipEvent } from './protocol.js';

let clusters = 0;

/** Owns the channel of one cluster; its name is unique per cluster in the process. */
export class MembershipBus {
  readonly channelName: string;
  #channel: BroadcastChannel | null;

  constructor() {
    this.channelName = `shardcache:${process.pid}:${++clusters}`;
    this.#channel = new BroadcastChannel(this.channelName);
    // An open channel would keep the host process alive; the coordinator never listens on it.
    this.#channel.unref();
  }

  publish(event: MembershipEvent): void {
    this.#channel?.postMessage(event);
  }

  close(): void {
    this.#channel?.close();
    this.#channel = null;
  }
}
