// Applies a leader's replication stream here: each command runs through the RESP command table as
// the leader's caller (a Session with no socket, whose writes a replica does not refuse), and a full
// resync's snapshot replaces the data set. Never listens or writes to a socket (the link: replica.ts).
import type { RdbContents } from '../../rdb/read.js';
import { Replica } from '../../replication/replica.js';
import type { ServerContext, Session } from './commands.js';
import type { ContextOptions } from './context.js';
import { execute } from './execute.js';

/** The caller a leader's stream runs as: authenticated, its writes not refused, and no connection. */
function leaderCaller(): Session {
  return {
    id: 0,
    resp3: false,
    authed: true,
    name: 'leader',
    addr: 'leader',
    createdAt: Date.now(),
    lastCommand: 'NULL',
    closing: false,
    outputBytes: () => 0,
    reading: () => true,
    kill: () => undefined,
    socket: null,
    afterReplies: (fn) => fn(),
    hello: null,
    replica: false,
    fromLeader: true,
  };
}

/**
 * Makes the context a replica of `host:port` (stopping the link it had): starts a replica link
 * whose stream and snapshots are applied here; returns the link.
 */
export function followLeader(ctx: ServerContext, options: ContextOptions, host: string, port: number): Replica {
  ctx.replicaOf?.stop();
  const leader = leaderCaller();
  const replica = new Replica({
    host,
    port,
    masterauth: options.masterauth ?? null,
    masteruser: options.masteruser ?? null,
    listeningPort: ctx.port,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.replTimeoutMs === undefined ? {} : { timeoutMs: options.replTimeoutMs }),
    ...(options.replBackoffMs === undefined ? {} : { backoffMinMs: options.replBackoffMs[0], backoffMaxMs: options.replBackoffMs[1] }),
    ...(options.replAckIntervalMs === undefined ? {} : { ackIntervalMs: options.replAckIntervalMs }),
    apply: (args) => execute(ctx, leader, args),
    load: async (rdb) => {
      ctx.loading = true;
      try {
        return await loadSnapshot(ctx, leader, rdb);
      } finally {
        ctx.loading = false;
      }
    },
  });
  ctx.replicaOf = replica;
  replica.start();
  return replica;
}

/** Replaces the data set with a snapshot's string keys (expired ones left out); returns how many were refused. */
async function loadSnapshot(ctx: ServerContext, leader: Session, rdb: RdbContents): Promise<number> {
  await ctx.cluster.flushall();
  const SET = Buffer.from('SET');
  const PXAT = Buffer.from('PXAT');
  const now = Date.now();
  let refused = 0;
  for (let i = 0; i < rdb.entries.length; i += 1000) {
    const replies = rdb.entries.slice(i, i + 1000).flatMap((e) => {
      if (e.expireAt !== 0 && e.expireAt <= now) return [];
      return [
        execute(ctx, leader, e.expireAt === 0 ? [SET, e.key, e.value] : [SET, e.key, e.value, PXAT, Buffer.from(String(e.expireAt))]),
      ];
    });
    for (const r of await Promise.all(replies)) if (r[0] === 0x2d) refused++;
  }
  return refused;
}
