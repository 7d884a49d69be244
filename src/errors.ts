// The one error class of shardcache and its wire form. Errors cross MessagePorts as plain
// `{ code, message }` data (a posted Error loses its class and code) and are rebuilt here.
// Must never import anything of the project.

/** Stable error codes. Documented in the README's errors table (a test keeps them in step). */
export type ErrorCode =
  | 'EINVAL' // a bad argument or option; nothing was changed
  | 'CLOSED' // the cluster is closing or closed
  | 'SHARD_CRASHED' // the shard holding the op died (exit, crash or watchdog) before answering
  | 'SHARD_UNAVAILABLE' // the owning shard is down and could not be restarted
  | 'OOM' // maxmemory reached under the noeviction policy
  | 'NOT_FOUND' // no such shard
  | 'LIMIT' // a membership limit: maxShards reached, or removing the last shard
  | 'NOT_INTEGER' // INCR-family on a value that is not a 64-bit integer
  | 'NOT_FLOAT' // INCRBYFLOAT on a value that is not a float
  | 'OVERFLOW' // INCR-family result out of the signed 64-bit range
  | 'READONLY' // a write to a read-only replica (createReplica): the seed client's "not leader"
  | 'WRONG_EPOCH' // internal: a batch routed under another ring epoch (re-routed, never surfaced)
  | 'INTERNAL'; // a bug in shardcache: an unexpected exception inside a shard

/** Every code, in the order of the README's table. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'EINVAL',
  'CLOSED',
  'SHARD_CRASHED',
  'SHARD_UNAVAILABLE',
  'OOM',
  'NOT_FOUND',
  'LIMIT',
  'NOT_INTEGER',
  'NOT_FLOAT',
  'OVERFLOW',
  'READONLY',
  'WRONG_EPOCH',
  'INTERNAL',
];

const kCacheError = Symbol.for('shardcache.CacheError');

/** The error every shardcache API rejects with; `code` is stable, `message` is for people. */
export class CacheError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheError';
    this.code = code;
  }

  get [kCacheError](): true {
    return true;
  }

  /** True for a CacheError from any copy of this module (brand check, not instanceof). */
  static is(value: unknown): value is CacheError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kCacheError] === true;
  }
}

/** The form an error takes on a port. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

export function toWire(err: unknown): WireError {
  if (CacheError.is(err)) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

export function fromWire(wire: WireError): CacheError {
  return new CacheError(wire.code, wire.message);
}

/** True for the errors of a shard that died or is down (the op may be retried elsewhere). */
export function isCrash(err: unknown): boolean {
  return CacheError.is(err) && (err.code === 'SHARD_CRASHED' || err.code === 'SHARD_UNAVAILABLE');
}

/** Shorthand for argument errors at the public edge. */
export function einval(message: string): CacheError {
  return new CacheError('EINVAL', message);
}
