// Values that travel as bytes (Op.SET_BYTES): the coordinator copies a value's bytes into its
// shard queue's byte arena and the op's arg says where they are (a ValueRef); the shard turns them
// into the value. One rule for every side that makes a value from wire bytes: ASCII becomes a
// compact string (what the store holds for text), other bytes an exact-size Uint8Array.
import { isAscii } from 'node:buffer';
import { Op } from './protocol.js';

/** Values up to this many bytes go through a queue's arena (bigger ones travel on their own). */
export const MAX_REF_BYTES = 64 * 1024;
/** Arena offsets scale by this (lengths are below it). */
const SCALE = 2 ** 17;

/** Where a value's bytes are in an arena: offset × 2^17 + length, one number (no object per op). */
export type ValueRef = number;

export function valueRef(offset: number, length: number): ValueRef {
  return offset * SCALE + length;
}

export function refOffset(ref: ValueRef): number {
  return Math.floor(ref / SCALE);
}

export function refLength(ref: ValueRef): number {
  return ref % SCALE;
}

/** Bytes below 0x80 only: a short range checked here, a long one natively. */
export function asciiRange(buf: Buffer, start: number, end: number): boolean {
  if (end - start > 32) return isAscii(buf.subarray(start, end));
  for (let i = start; i < end; i++) if (buf[i]! > 0x7f) return false;
  return true;
}

/** The value that `buf[start..end)` stands for: ASCII as a compact string, else a copy of the bytes. */
export function valueFromBytes(buf: Buffer, start: number, end: number): string | Uint8Array {
  if (asciiRange(buf, start, end)) return buf.latin1Slice(start, end);
  const copy = new Uint8Array(end - start);
  copy.set(buf.subarray(start, end));
  return copy;
}

/**
 * Turns a batch's SET_BYTES ops back into SETs with their values, from the batch's `bytes` (which
 * start at arena offset `base`): for a batch a shard refused, to be routed again.
 */
export function restoreValues(ops: unknown[], bytes: ArrayBuffer, base: number): void {
  const buf = Buffer.from(bytes);
  for (let i = 0; i < ops.length; i += 3) {
    if (ops[i] !== Op.SET_BYTES) continue;
    const ref = ops[i + 2] as ValueRef;
    const at = refOffset(ref) - base;
    ops[i] = Op.SET;
    ops[i + 2] = valueFromBytes(buf, at, at + refLength(ref));
  }
}

/** Byte lengths of the values being packed (reused: packing runs once per batch on one thread). */
const lengths: number[] = [];

/**
 * Packs the values GET_BYTES ops found into one buffer, turning each such result into a ValueRef
 * into it (missing keys stay null, values past MAX_REF_BYTES stay values). Undefined when there is
 * nothing to pack.
 */
export function packValues(ops: unknown[], results: unknown[]): ArrayBuffer | undefined {
  let total = 0;
  let count = 0;
  for (let i = 0; i < results.length; i++) {
    lengths[i] = -1;
    if (ops[i * 3] !== Op.GET_BYTES) continue;
    const v = results[i];
    if (v === null || v === undefined) continue;
    const len = typeof v === 'string' ? Buffer.byteLength(v) : (v as Uint8Array).byteLength;
    if (len > MAX_REF_BYTES) continue;
    lengths[i] = len;
    total += len;
    count++;
  }
  if (count === 0) return undefined;
  const out = Buffer.allocUnsafeSlow(total);
  let off = 0;
  for (let i = 0; i < results.length; i++) {
    const len = lengths[i]!;
    if (len < 0) continue;
    const v = results[i] as string | Uint8Array;
    // Only an ASCII string has as many bytes as UTF-16 units; its latin1 form is its UTF-8.
    if (typeof v === 'string') out.write(v, off, len, len === v.length ? 'latin1' : 'utf8');
    else out.set(v, off);
    results[i] = valueRef(off, len);
    off += len;
  }
  return out.buffer;
}

declare global {
  interface Buffer {
    /** Node's own latin1 decoder (what toString('latin1', start, end) ends in), without its argument checks. */
    latin1Slice(start: number, end: number): string;
  }
}
