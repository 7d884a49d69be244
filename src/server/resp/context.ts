// A RESP server's context without the network: the ServerContext its command handlers use (cluster,
// settings, counters, the replica link REPLICAOF starts). The RESP server adds connections to it;
// createReplica uses it alone. It never opens a port or touches a socket.
import type { Cluster } from '../../cluster.js';
import { DEFAULT_BACKLOG_BYTES } from '../../replication/leader.js';
import type { ReplicaLog } from '../../replication/replica.js';
import { DEFAULT_OUTPUT_LIMITS, formatOutputLimits, type OutputLimits } from '../../resp/output-limits.js';
import { DEFAULT_LIMITS, type ParserLimits } from '../../resp/request-parser.js';
import { AuthFailures } from '../auth.js';
import { followLeader } from './apply.js';
import { commandNames, type ServerContext } from './commands.js';

/** Default maxclients. */
export const DEFAULT_MAX_CLIENTS = 10_000;
/** Default client-query-buffer-limit: 1 GB. */
export const DEFAULT_MAX_QUERY_BYTES = 1024 * 1024 * 1024;

/** What a RESP server's context is made of: its settings, its log and its replica link's settings. */
export interface ContextOptions {
  /** `requirepass`: clients must AUTH first. Default none. */
  password?: string | null;
  /** Most connected clients (maxclients). Default 10,000. */
  maxClients?: number;
  /** Largest unparsed input per client before it is closed (client-query-buffer-limit). Default 1 GB. */
  maxQueryBuffer?: number;
  /** Parser limits (proto-max-bulk-len and friends). */
  limits?: Partial<ParserLimits>;
  /** Replication backlog bytes (repl-backlog-size), for replicas that reconnect. Default 1 MB. */
  replBacklogBytes?: number;
  /** AUTH to the leader (masterauth; masteruser for an ACL user). */
  masterauth?: string | null;
  masteruser?: string | null;
  /** The replica link's connect timeout and longest leader silence (repl-timeout). Default 60 s. */
  replTimeoutMs?: number;
  /** Reconnect backoff of the replica link. Default 100 ms doubling to 5 s. */
  replBackoffMs?: [number, number];
  /** How often the replica link acknowledges its offset. Default 1 s. */
  replAckIntervalMs?: number;
  /** Where the server and its replica link log (a pino logger fits). */
  log?: ReplicaLog;
  /**
   * Protected mode (protected-mode): without a password, clients from other than loopback get
   * -DENIED and are closed. Default true.
   */
  protectedMode?: boolean;
  /** client-output-buffer-limit per class. Default DEFAULT_OUTPUT_LIMITS. */
  outputLimits?: OutputLimits;
  /** Failed AUTHs are counted and logged here (share one with the REST API). Default: one of its own, logging to `log`. */
  authFailures?: AuthFailures;
}

const quietLog: ReplicaLog = { info: () => undefined, warn: () => undefined };

/** The context of a RESP server over `cluster`: no connections yet, not following a leader. */
export function createContext(cluster: Cluster, options: ContextOptions = {}): ServerContext {
  const log = options.log ?? quietLog;
  const outputLimits = options.outputLimits ?? DEFAULT_OUTPUT_LIMITS;
  const ctx: ServerContext = {
    cluster,
    password: options.password ?? null,
    port: 0,
    startedAt: Date.now(),
    sessions: new Map(),
    stats: { commands: 0, connections: 0, rejected: 0, crossProtocol: 0, outputLimitClosed: 0, calls: commandNames.map(() => 0) },
    authFailures: options.authFailures ?? new AuthFailures({ log }),
    outputLimits,
    log,
    backlogBytes: options.replBacklogBytes ?? DEFAULT_BACKLOG_BYTES,
    replicaOf: null,
    loading: false,
    follow: (host, port) => {
      followLeader(ctx, options, host, port);
    },
    unfollow: () => {
      ctx.replicaOf?.stop();
      ctx.replicaOf = null;
    },
    config: {
      maxclients: String(options.maxClients ?? DEFAULT_MAX_CLIENTS),
      'proto-max-bulk-len': String(options.limits?.maxBulkBytes ?? DEFAULT_LIMITS.maxBulkBytes),
      'client-query-buffer-limit': String(options.maxQueryBuffer ?? DEFAULT_MAX_QUERY_BYTES),
      'repl-backlog-size': String(options.replBacklogBytes ?? DEFAULT_BACKLOG_BYTES),
      'protected-mode': (options.protectedMode ?? true) ? 'yes' : 'no',
      'client-output-buffer-limit': formatOutputLimits(outputLimits),
    },
  };
  return ctx;
}
