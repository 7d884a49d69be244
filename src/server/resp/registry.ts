// The RESP command registry: what a handler is given (a Session, the ServerContext), each command's
// spec (Redis 7's arity, flags and key positions, as COMMAND reports them) and the one table the
// command families register into. No handlers here, and nothing of the network.
import type { Socket } from 'node:net';
import type { Cluster } from '../../cluster.js';
import type { ReplicaHello } from '../../replication/leader.js';
import type { ReplicaLog } from '../../replication/replica.js';
import type { OutputLimits } from '../../resp/output-limits.js';
import { bulk, error } from '../../resp/reply-encoder.js';
import type { AuthFailures } from '../auth.js';
import { replyError } from './command-args.js';

/** What a connection knows about itself. */
export interface Session {
  id: number;
  resp3: boolean;
  authed: boolean;
  name: string | null;
  addr: string;
  createdAt: number;
  lastCommand: string;
  /** Set by QUIT: close after the reply is written. */
  closing: boolean;
  /** Reply bytes waiting: written and not yet taken by the kernel, or ready and not yet written (CLIENT LIST's omem). */
  outputBytes(): number;
  /** Whether requests are being read (CLIENT LIST's events: r), or held until replies drain. */
  reading(): boolean;
  /** Closes the connection at once (CLIENT KILL). */
  kill(): void;
  /** The connection's socket (a replica's stream is written to it directly); null for a caller that is no connection (the leader's stream being applied). */
  socket: Socket | null;
  /** Runs `fn` once every reply queued so far is written (PSYNC: the stream follows its reply). */
  afterReplies(fn: () => void): void;
  /** What REPLCONF told about a replica-to-be; `replica` once PSYNC attached it (no replies from then on). */
  hello: ReplicaHello | null;
  replica: boolean;
  /** The link to this server's leader, applying its stream: its writes are not refused. */
  fromLeader?: boolean;
}

/** What every handler may use. */
export interface ServerContext {
  cluster: Cluster;
  password: string | null;
  port: number;
  startedAt: number;
  sessions: Map<number, Session>;
  /**
   * `calls[commandId(name)]`: how many times each command ran (INFO commandstats, /metrics);
   * crossProtocol: HTTP requests refused; outputLimitClosed: clients closed by client-output-buffer-limit.
   */
  stats: { commands: number; connections: number; rejected: number; crossProtocol: number; outputLimitClosed: number; calls: number[] };
  /** Failed AUTHs (INFO acl_access_denied_auth; counted under the surface `resp`). */
  authFailures: AuthFailures;
  /** client-output-buffer-limit, per client class. */
  outputLimits: OutputLimits;
  /** Where the server logs. */
  log: ReplicaLog;
  /** What CONFIG GET reports besides the cluster's own settings (maxclients, proto-max-bulk-len...). */
  config: Record<string, string>;
  /** Bytes of replication backlog the cluster's leader side keeps (repl-backlog-size). */
  backlogBytes: number;
  /** Set while this server is a replica (REPLICAOF / --replicaof): clients' writes are refused. */
  replicaOf: ReplicaRole | null;
  /** Becomes a replica of host:port (REPLICAOF), or stops being one (REPLICAOF NO ONE). */
  follow(host: string, port: number): void;
  unfollow(): void;
  /** A snapshot from the leader is being loaded: clients get LOADING. */
  loading: boolean;
}

/** What the RESP server needs of its replica link (src/replication/replica.ts). */
export interface ReplicaRole {
  readonly host: string;
  readonly port: number;
  /** ROLE's state: connect, connecting, sync or connected. */
  readonly state: string;
  /** INFO replication's lines after role:slave. */
  info(): string[];
  /** The leader's replication ID (null before the first sync) and our offset in its stream. */
  readonly replid: string | null;
  readonly offset: number;
  stop(): void;
}

/** A handler's answer: the reply's bytes, now or later. */
export type Reply = Buffer | Promise<Buffer>;
/** Turns a command's arguments into its reply; throws a RespError for an error reply. */
export type Handler = (ctx: ServerContext, s: Session, args: Buffer[]) => Reply;

/** Every command name, in the order ids were given (ids index ServerContext.stats.calls). */
export const commandNames: string[] = [];
const ids = new Map<string, number>();

/** A command's number, given once per name (the general table and the hot path share them). */
export function commandId(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = commandNames.length;
    commandNames.push(name);
    ids.set(name, id);
  }
  return id;
}

/** A registered command: what COMMAND reports of it, and its handler. */
export interface CommandSpec {
  /** Its commandId. */
  id: number;
  /** Redis arity: exact argument count including the name, or at least |arity| when negative. */
  arity: number;
  flags: string[];
  firstKey: number;
  lastKey: number;
  step: number;
  handler: Handler;
  /** Runs before AUTH when a password is set (AUTH, HELLO, QUIT). */
  noAuth?: boolean;
}

const commands = new Map<string, CommandSpec>();

/** Every registered command by lower-case name, in registration order (COMMAND lists them). */
export const commandTable: ReadonlyMap<string, CommandSpec> = commands;

/** Registers a command (a family's module calls this once per command it defines). */
export function def(name: string, arity: number, flags: string[], keys: [number, number, number], handler: Handler, noAuth = false): void {
  commands.set(name, { id: commandId(name), arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], handler, noAuth });
}

/** The spec of a command by lower-case name. */
export function commandSpec(name: string): CommandSpec | undefined {
  return commands.get(name);
}

/** Another name for a registered command, with an id of its own (SLAVEOF for REPLICAOF). */
export function alias(name: string, of: string): void {
  commands.set(name, { ...commands.get(of)!, id: commandId(name) });
}

/** Runs a promise-returning cluster call and encodes its result, or its error. */
export function run<T>(p: Promise<T>, encode: (v: T) => Buffer): Promise<Buffer> {
  return p.then(encode, (err: unknown) => error(replyError(err)));
}

/** Key positions (first, last, step): none, the first argument, every argument. */
export const NONE: [number, number, number] = [0, 0, 0];
export const KEY1: [number, number, number] = [1, 1, 1];
export const ALLKEYS: [number, number, number] = [1, -1, 1];

/** A reply of no bytes: what an attached replica's commands get (it never reads replies). */
export const NO_REPLY = Buffer.alloc(0);

/**
 * A bulk encoder for the protocol the request was read under: called when the handler runs, so a
 * HELLO later in the same pipeline does not change how this reply is encoded.
 */
export const bulkOf = (s: Session): ((v: string | Buffer | null) => Buffer) => {
  const resp3 = s.resp3;
  return (v) => bulk(v, resp3);
};
