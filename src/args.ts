// Validation of API arguments at the public edge: keys, values, TTLs and SET options. Each
// failure is a CacheError EINVAL naming the argument; nothing reaches a shard before it passes.
import { einval } from './errors.js';
import { internalKey } from './keys.js';
import { describe } from './options.js';
import { SetFlag } from './protocol.js';

/** A key: a string (UTF-8) or bytes. The empty key is valid, as in Redis. */
export type Key = string | Buffer | Uint8Array;
/** A value: a string comes back as a string, bytes come back as a Buffer. */
export type Value = string | Buffer | Uint8Array;

/** SET options, as Redis's SET command has them. At most one of ex, px, exat, pxat, keepTtl. */
export interface SetOptions {
  /** Expire after this many seconds (a positive integer). */
  ex?: number;
  /** Expire after this many milliseconds (a positive integer). */
  px?: number;
  /** Expire at this Unix time in seconds (a positive integer). */
  exat?: number;
  /** Expire at this Unix time in milliseconds (a positive integer). */
  pxat?: number;
  /** Keep the key's current TTL. */
  keepTtl?: boolean;
  /** Only set if the key does not exist. */
  nx?: boolean;
  /** Only set if the key exists. */
  xx?: boolean;
  /** Return the previous value (or null) instead of whether the value was set. */
  get?: boolean;
}

/** EXPIRE's conditions (Redis 7): only if no TTL, only if a TTL, only if greater, only if less. */
export type ExpireMode = 'NX' | 'XX' | 'GT' | 'LT';

/** Largest key in bytes (Redis's limit). */
export const MAX_KEY_BYTES = 512 * 1024 * 1024;

export function keyArg(key: unknown, name = 'key'): string {
  if (typeof key === 'string') {
    if (key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES) throw tooLarge(name, MAX_KEY_BYTES);
    return internalKey(key);
  }
  if (key instanceof Uint8Array) {
    if (key.byteLength > MAX_KEY_BYTES) throw tooLarge(name, MAX_KEY_BYTES);
    return internalKey(key);
  }
  throw einval(`${name} must be a string, Buffer or Uint8Array, got ${typeName(key)}`);
}

/** Longest glob pattern (KEYS, SCAN MATCH), in characters: each element costs memory and work per key. */
export const MAX_PATTERN_LENGTH = 64 * 1024;

/** A glob pattern: a key-like argument of at most MAX_PATTERN_LENGTH characters. */
export function patternArg(pattern: unknown, name = 'pattern'): string {
  const p = keyArg(pattern, name);
  if (p.length > MAX_PATTERN_LENGTH) throw einval(`${name} is longer than ${MAX_PATTERN_LENGTH} characters`);
  return p;
}

export function keysArg(keys: unknown, name = 'keys'): string[] {
  if (!Array.isArray(keys)) throw einval(`${name} must be an array of keys, got ${typeName(keys)}`);
  if (keys.length === 0) throw einval(`${name} must name at least one key`);
  return keys.map((k, i) => keyArg(k, `${name}[${i}]`));
}

/**
 * A value as it travels to a shard: a string, or an exact-size Uint8Array. A Buffer that views
 * part of a larger ArrayBuffer (Node's pooled small Buffers) is copied: structured clone would
 * otherwise copy, and the shard keep, the whole backing store.
 */
export function valueArg(value: unknown, maxBytes: number, name = 'value'): string | Uint8Array {
  if (typeof value === 'string') {
    if (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes) throw tooLarge(name, maxBytes);
    return value;
  }
  if (value instanceof Uint8Array) {
    if (value.byteLength > maxBytes) throw tooLarge(name, maxBytes);
    if (value.byteOffset === 0 && value.buffer.byteLength === value.byteLength && !Buffer.isBuffer(value)) return value;
    const copy = new Uint8Array(value.byteLength);
    copy.set(value);
    return copy;
  }
  throw einval(`${name} must be a string, Buffer or Uint8Array, got ${typeName(value)}`);
}

/** A positive integer duration in `unitMs` units, returned in ms. */
export function durationArg(value: unknown, name: string, unitMs: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw einval(`${name} must be a positive integer, got ${describe(value)}`);
  }
  const ms = value * unitMs;
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(Date.now() + ms)) throw einval(`${name} is too large, got ${value}`);
  return ms;
}

/** A positive integer Unix time in `unitMs` units, returned in ms. */
export function instantArg(value: unknown, name: string, unitMs: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw einval(`${name} must be a positive integer Unix time, got ${describe(value)}`);
  }
  const ms = value * unitMs;
  if (!Number.isSafeInteger(ms)) throw einval(`${name} is too large, got ${value}`);
  return ms;
}

/** SET options → SetFlag bits and an absolute expiry in ms (0 = none). */
export function setOptionsArg(options: unknown): { flags: number; expireAt: number } {
  if (options === undefined) return { flags: 0, expireAt: 0 };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw einval(`options must be an object, got ${typeName(options)}`);
  }
  const o = options as Record<string, unknown>;
  const known = ['ex', 'px', 'exat', 'pxat', 'keepTtl', 'nx', 'xx', 'get'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw einval(`options.${k} is not a SET option`);
  for (const k of ['keepTtl', 'nx', 'xx', 'get']) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw einval(`options.${k} must be a boolean`);
  }
  const expiries = ['ex', 'px', 'exat', 'pxat'].filter((k) => o[k] !== undefined);
  if (expiries.length + (o.keepTtl === true ? 1 : 0) > 1) {
    throw einval('options may set only one of ex, px, exat, pxat and keepTtl');
  }
  if (o.nx === true && o.xx === true) throw einval('options.nx and options.xx cannot both be set');
  let expireAt = 0;
  if (o.ex !== undefined) expireAt = Date.now() + durationArg(o.ex, 'options.ex', 1000);
  else if (o.px !== undefined) expireAt = Date.now() + durationArg(o.px, 'options.px', 1);
  else if (o.exat !== undefined) expireAt = instantArg(o.exat, 'options.exat', 1000);
  else if (o.pxat !== undefined) expireAt = instantArg(o.pxat, 'options.pxat', 1);
  const flags =
    (o.nx === true ? SetFlag.NX : 0) |
    (o.xx === true ? SetFlag.XX : 0) |
    (o.keepTtl === true ? SetFlag.KEEPTTL : 0) |
    (o.get === true ? SetFlag.GET : 0);
  return { flags, expireAt };
}

/** An INCRBY delta: a safe integer or a bigint within the signed 64-bit range. */
export function deltaArg(value: unknown, name = 'increment'): number | bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'bigint' && value >= -(2n ** 63n) && value < 2n ** 63n) return value;
  throw einval(`${name} must be a safe integer or a 64-bit bigint, got ${describe(value)}`);
}

function tooLarge(name: string, maxBytes: number) {
  return einval(`${name} is larger than the limit of ${maxBytes} bytes`);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
