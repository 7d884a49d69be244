// Structured logs of `shardcache start` (pino: one JSON object per line on stderr, levels): the
// cluster's membership events, the servers' lifecycle. stdout keeps the one human "ready" line.
import { pino, type Logger } from 'pino';
import type { Cluster } from '../cluster.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A logger at `level` writing to stderr. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/** Logs what the cluster reports: shards joining, leaving, crashing; epochs; data movement. */
export function logCluster(cluster: Cluster, log: Logger): void {
  cluster.on('join', (e) => log.info({ event: 'join', ...e }, `shard ${e.name} ${e.restart ? 'restarted' : 'joined'}`));
  cluster.on('leave', (e) => log.info({ event: 'leave', ...e }, `shard ${e.name} left`));
  cluster.on('crash', (e) =>
    log.error(
      { event: 'crash', ...e },
      `shard ${e.name} crashed: ${e.reason}${e.restarting ? '; restarting' : '; left down'}` +
        (e.keysLost > 0
          ? `; ${e.keysLost} keys lost with every copy (${cluster.dataLoss?.keysLost ?? e.keysLost} since the start or the last FLUSHALL)`
          : ''),
    ),
  );
  cluster.on('epoch', (e) => log.debug({ event: 'epoch', ...e }, `epoch ${e.epoch}`));
  cluster.on('migration', (e) =>
    log.info(
      { event: 'migration', ...e },
      e.phase === 'start'
        ? `${e.kind} of shard ${e.shardId}: moving data`
        : `${e.kind} of shard ${e.shardId}: done, ${e.keysMoved} keys moved`,
    ),
  );
  cluster.on('whole', (e) => log.info({ event: 'whole', ...e }, `shard ${e.name} refilled: ${e.keysRefilled} keys`));
  cluster.on('incomplete', (e) =>
    log.error(
      { event: 'incomplete', ...e },
      `shard ${e.name} refilled with what was left: ${e.keysRefilled} keys; ${e.keysLost} of its keys had lost every copy`,
    ),
  );
}
