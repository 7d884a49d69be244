// The RESP (Redis protocol) front end: one parser per connection, replies of a pipeline written
// in request order even when shards answer out of order (a per-connection queue flushed from its
// head, one write per flush), auth, client and query-buffer limits. It talks to the cluster only
// through the command table; a bad request never affects another connection.
import { createServer, type Server, type Socket } from 'node:net';
import type { Cluster } from '../../cluster.js';
import { RespError, replyError } from './args.js';
import { commandSpec, type ServerContext, type Session } from './commands.js';
import { error } from './encode.js';
import { ProtocolError, RespParser, type ParserLimits } from './parser.js';

export interface RespServerOptions {
  /** `requirepass`: clients must AUTH first. Default none. */
  password?: string | null;
  /** Most connected clients (maxclients). Default 10,000. */
  maxClients?: number;
  /** Largest unparsed input per client before it is closed (client-query-buffer-limit). Default 1 GB. */
  maxQueryBuffer?: number;
  /** Parser limits (proto-max-bulk-len and friends). */
  limits?: Partial<ParserLimits>;
}

const NOAUTH = error('NOAUTH Authentication required.');

/** A pending reply slot: filled when its command's promise settles. */
interface Slot {
  reply: Buffer | null;
}

/** A RESP server: a net.Server with its context, and a way to drop every connection at shutdown. */
export type RespServer = Server & { context: ServerContext; destroyConnections(): void };

/** Serves a cluster over RESP; call listen() on the returned server. */
export function createRespServer(cluster: Cluster, options: RespServerOptions = {}): RespServer {
  const maxClients = options.maxClients ?? 10_000;
  const maxQuery = options.maxQueryBuffer ?? 1024 * 1024 * 1024;
  const ctx: ServerContext = {
    cluster,
    password: options.password ?? null,
    port: 0,
    startedAt: Date.now(),
    sessions: new Map(),
    stats: { commands: 0, connections: 0, rejected: 0 },
  };
  let nextId = 1;
  const sockets = new Set<Socket>();

  const server = createServer({ noDelay: true }, (socket) => {
    ctx.stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (ctx.sessions.size >= maxClients) {
      ctx.stats.rejected++;
      socket.end(error('ERR max number of clients reached'));
      return;
    }
    const session: Session = {
      id: nextId++,
      resp3: false,
      authed: ctx.password === null,
      name: null,
      addr: `${socket.remoteAddress}:${socket.remotePort}`,
      createdAt: Date.now(),
      lastCommand: 'NULL',
      closing: false,
    };
    ctx.sessions.set(session.id, session);
    serveConnection(ctx, session, socket, new RespParser(options.limits), maxQuery);
  }) as RespServer;
  server.context = ctx;
  server.destroyConnections = () => {
    for (const s of sockets) s.destroy();
  };
  server.on('listening', () => {
    const addr = server.address();
    if (addr !== null && typeof addr === 'object') ctx.port = addr.port;
  });
  return server;
}

function serveConnection(ctx: ServerContext, session: Session, socket: Socket, parser: RespParser, maxQuery: number): void {
  const queue: Slot[] = [];
  let closeAfterFlush = false;

  const flush = (): void => {
    flushScheduled = false;
    let n = 0;
    while (n < queue.length && queue[n]!.reply !== null) n++;
    if (n === 0) return;
    const out = queue.splice(0, n).map((s) => s.reply!);
    socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    if (closeAfterFlush && queue.length === 0) socket.end();
  };
  // Replies of one pipeline come back from several shards in separate messages: gather those of
  // one event-loop turn into one write (each socket write is a syscall, measured as the main
  // thread's largest cost under redis-benchmark -P 16).
  let flushScheduled = false;
  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flush);
  };

  const push = (reply: Buffer | Promise<Buffer>): void => {
    if (Buffer.isBuffer(reply)) {
      queue.push({ reply });
      return;
    }
    const slot: Slot = { reply: null };
    queue.push(slot);
    reply.then(
      (r: Buffer) => {
        slot.reply = r;
        scheduleFlush();
      },
      (err: unknown) => {
        slot.reply = error(replyError(err));
        scheduleFlush();
      },
    );
  };

  socket.on('data', (chunk: Buffer) => {
    if (closeAfterFlush) return;
    parser.feed(chunk);
    if (parser.buffered > maxQuery) {
      // Redis closes such a client; the reason goes to the log, the client just sees the close.
      socket.destroy();
      return;
    }
    try {
      for (;;) {
        const req = parser.next();
        if (req === null) break;
        if (req instanceof ProtocolError) {
          push(error(`ERR ${req.message}`));
          closeAfterFlush = true;
          break;
        }
        push(execute(ctx, session, req));
        if (session.closing) {
          closeAfterFlush = true;
          break;
        }
      }
    } catch (err) {
      // A bug must cost this connection, never the process or the other clients.
      push(error(`ERR internal error: ${err instanceof Error ? err.message : String(err)}`));
      closeAfterFlush = true;
    }
    flush();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => ctx.sessions.delete(session.id));
}

/** Runs one request; never throws (errors become error replies). */
export function execute(ctx: ServerContext, session: Session, args: Buffer[]): Buffer | Promise<Buffer> {
  const name = args[0]!.toString().toLowerCase();
  const spec = commandSpec(name);
  ctx.stats.commands++;
  if (spec === undefined) {
    const shown = args
      .slice(1)
      .map((a) => `'${a.toString().slice(0, 128)}' `)
      .join('');
    return error(`ERR unknown command '${args[0]!.toString().slice(0, 128)}', with args beginning with: ${shown}`);
  }
  if (!session.authed && spec.noAuth !== true) return NOAUTH;
  if ((spec.arity > 0 && args.length !== spec.arity) || args.length < -spec.arity) {
    return error(`ERR wrong number of arguments for '${name}' command`);
  }
  session.lastCommand = name;
  try {
    return spec.handler(ctx, session, args);
  } catch (err) {
    return error(err instanceof RespError ? err.message : replyError(err));
  }
}
