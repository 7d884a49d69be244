// Runs one request through the command table: lookup, AUTH, arity, a replica's READONLY and a
// load's LOADING, counters, then the handler. What every caller shares — a client's connection and
// a leader's stream (apply.ts); it never throws and never touches a socket.
import { error } from '../../resp/reply-encoder.js';
import { RespError, replyError } from './command-args.js';
import { commandSpec, NO_REPLY, type ServerContext, type Session } from './commands.js';

const NOAUTH = error('NOAUTH Authentication required.');
const READONLY = error("READONLY You can't write against a read only replica.");
const LOADING = error('LOADING shardcache is loading the dataset in memory');

/** Runs one request; never throws (errors become error replies). */
export function execute(ctx: ServerContext, session: Session, args: Buffer[]): Buffer | Promise<Buffer> {
  const name = args[0]!.toString().toLowerCase();
  // An attached replica only acknowledges (REPLCONF ACK); nothing, not even an error, is ever
  // written back into its stream.
  if (session.replica) {
    try {
      if (name === 'replconf') commandSpec(name)!.handler(ctx, session, args);
    } catch {
      // A malformed acknowledgement is dropped.
    }
    return NO_REPLY;
  }
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
  if (session.fromLeader !== true) {
    if (ctx.replicaOf !== null && spec.flags.includes('write')) return READONLY;
    if (ctx.loading && !spec.flags.includes('loading')) return LOADING;
  }
  ctx.stats.calls[spec.id]!++;
  session.lastCommand = name;
  try {
    return spec.handler(ctx, session, args);
  } catch (err) {
    return error(err instanceof RespError ? err.message : replyError(err));
  }
}
