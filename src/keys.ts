// Keys are byte strings. Inside shardcache a key travels as one JS string, its "internal" form,
// so that a key given as a string and the same bytes given as a Buffer are the same key:
//   - bytes that are valid UTF-8 → the decoded string (the common case costs nothing);
//   - any other bytes            → BINARY_MARK + the bytes as latin1 (one char per byte).
// BINARY_MARK is a lone low surrogate, which no well-formed string can start with; strings with
// lone surrogates are made well-formed first, exactly as their UTF-8 encoding would do.
import { isUtf8 } from 'node:buffer';
import type { HashFn } from './hash.js';

export const BINARY_MARK = '\uDC00';

/** A key or value as callers give it. */
export type Bytes = string | Buffer | Uint8Array;

/** The internal form of a key already checked to be a string or a Uint8Array. */
export function internalKey(key: string | Uint8Array): string {
  if (typeof key === 'string') return key.isWellFormed() ? key : key.toWellFormed();
  const buf = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return isUtf8(buf) ? buf.toString('utf8') : BINARY_MARK + buf.toString('latin1');
}

/** The hash of an internal key: always the hash of the key's bytes. */
export function hashInternal(hash: HashFn, key: string): number {
  if (key.charCodeAt(0) === 0xdc00) return hash(Buffer.from(key.slice(1), 'latin1'));
  return hash(key);
}

/** The caller-facing form of an internal key: a string, or a Buffer for non-UTF-8 bytes. */
export function externalKey(key: string): string | Buffer {
  return key.charCodeAt(0) === 0xdc00 ? Buffer.from(key.slice(1), 'latin1') : key;
}

/** The key's bytes. */
export function keyBytes(key: string): Buffer {
  return key.charCodeAt(0) === 0xdc00 ? Buffer.from(key.slice(1), 'latin1') : Buffer.from(key, 'utf8');
}
