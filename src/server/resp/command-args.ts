// Argument parsing for RESP commands, with Redis's exact error strings. A RespError becomes an
// error reply on the wire; nothing reaches the cluster before its arguments pass.
import { CacheError } from '../../errors.js';
import { valueFromBytes } from '../../value-bytes.js';

/** An error reply: `message` is the whole line after `-` (it starts with the error code). */
export class RespError extends Error {}

export const SYNTAX = 'ERR syntax error';
export const NOT_INTEGER = 'ERR value is not an integer or out of range';

/** A strict integer argument (Redis string2ll) within ±2^53, where TTLs and counts live. */
export function intArg(b: Buffer, message = NOT_INTEGER): number {
  const s = b.toString('latin1');
  if (!/^-?(0|[1-9][0-9]{0,18})$/.test(s)) throw new RespError(message);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new RespError(message);
  return n;
}

/** An integer that may be a bigint within the signed 64-bit range (INCRBY deltas). */
export function int64Arg(b: Buffer): number | bigint {
  const s = b.toString('latin1');
  if (!/^-?(0|[1-9][0-9]{0,18})$/.test(s)) throw new RespError(NOT_INTEGER);
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n;
  const big = BigInt(s);
  if (big > 9223372036854775807n || big < -9223372036854775808n) throw new RespError(NOT_INTEGER);
  return big;
}

/** A value from the wire as the cluster stores it: ASCII as a compact string, other bytes as bytes. */
export function wireValue(b: Buffer): string | Uint8Array {
  return valueFromBytes(b, 0, b.length);
}

/** An upper-cased option word. */
export function word(b: Buffer): string {
  return b.toString('latin1').toUpperCase();
}

/** The wire error for an error the cluster raised. */
export function replyError(err: unknown): string {
  if (err instanceof RespError) return err.message;
  if (CacheError.is(err)) {
    switch (err.code) {
      case 'NOT_INTEGER':
        return NOT_INTEGER;
      case 'OVERFLOW':
        return 'ERR increment or decrement would overflow';
      case 'NOT_FLOAT':
        return 'ERR value is not a valid float';
      case 'OOM':
        return "OOM command not allowed when used memory > 'maxmemory'.";
      case 'CLOSED':
        return 'ERR server is shutting down';
      case 'READONLY':
        return err.message;
      case 'SHARD_CRASHED':
      case 'SHARD_UNAVAILABLE':
        return `TRYAGAIN ${err.message}`;
      default:
        return `ERR ${err.message}`;
    }
  }
  return `ERR ${err instanceof Error ? err.message : String(err)}`;
}
