// What a shard tells replication after a batch (or an expiry sweep): each key its ops changed,
// as the one command that sets the key to its state now — SET key value [PXAT ms] or DEL key —
// in RESP bytes. Such commands are idempotent: replaying a stretch twice, or on top of a snapshot
// that already holds part of it, ends in the same state (src/replication/leader.ts relies on it).
// FLUSHALLs in the batch are reported as a count: the coordinator orders them across shards.
import { keyBytes } from '../src/keys.js';
import { ByteWriter } from '../src/byte-writer.js';
import { writeEntry } from '../src/rdb/format.js';
import { writeCommand } from '../src/resp/command-encoder.js';
import type { ShardStore, Value } from './store.js';

const out = new ByteWriter(64 * 1024);
const DEL = 'DEL';
const SET = 'SET';
const PXAT = 'PXAT';

/** Appends the command that gives `key` its current state. */
function writeEffect(w: ByteWriter, key: string, entry: [Value, number] | null): void {
  const k = keyBytes(key);
  if (entry === null) writeCommand(w, [DEL, k]);
  else {
    const [value, at] = entry;
    writeCommand(w, at === 0 ? [SET, k, value] : [SET, k, value, PXAT, String(at)]);
  }
}

/** The effects recorded since the last call (null: none, or not recording); `skip`: keys that are another shard's to report. */
export function takeEffects(store: ShardStore, skip?: (key: string) => boolean): { bytes: ArrayBuffer; flushes: number } | null {
  const changes = store.changes;
  if (changes === null || (changes.size === 0 && store.flushed === 0)) return null;
  for (const key of changes) if (skip === undefined || !skip(key)) writeEffect(out, key, store.peek(key));
  changes.clear();
  const flushes = store.flushed;
  store.flushed = 0;
  if (out.length === 0 && flushes === 0) return null;
  return { bytes: out.take(), flushes };
}

/**
 * The next part of a snapshot: RDB records of the live entries from slot `from` on, up to
 * `maxEntries` or `maxBytes`. Returns the records, the slot to go on from (-1: done), and how many
 * entries and how many with an expiry the part holds.
 */
export function dumpPart(store: ShardStore, from: number, maxEntries: number, maxBytes: number): [ArrayBuffer, number, number, number] {
  let entries = 0;
  let expires = 0;
  const next = store.entriesFrom(from, (key, value, at) => {
    writeEntry(out, keyBytes(key), value, at);
    entries++;
    if (at !== 0) expires++;
    return entries < maxEntries && out.length < maxBytes;
  });
  return [out.take(), next, entries, expires];
}
