// The hot commands' fast path: GET, plain SET, INCR, DECR, MGET, MSET, DEL, UNLINK and EXISTS
// straight from the read buffer to the shard queues — keys are decoded from the bytes in place (no
// Buffer per argument), a SET's value bytes are copied to the shard's queue as they are (the shard
// makes the value), the name is matched without building a string, and the reply slot itself
// receives the shards' answer (no promise). Whatever is unusual (options, too large, not
// authenticated) returns false and takes the general path, which has the full checks and Redis's
// errors.
import { MAX_KEY_BYTES } from '../../args.js';
import { type Cluster, sendMulti, sendSet, sendTo } from '../../cluster.js';
import { internalKey } from '../../keys.js';
import { Op } from '../../protocol.js';
import { asciiRange, valueFromBytes } from '../../value-bytes.js';
import { commandId } from './commands.js';
import { Kind, type Reply } from './replies.js';

/** Makes the reply slot for a request and queues it on its connection. */
export type NewReply = (kind: number) => Reply;

type FastHandler = (cluster: Cluster, buf: Buffer, starts: number[], ends: number[], argc: number, reply: NewReply) => boolean;

interface FastCommand {
  name: string;
  /** Its commandId (the general table's number for the same command). */
  id: number;
  /** Changes data (a read-only replica sends it to the general path, which refuses it). */
  write: boolean;
  run: FastHandler;
}

/** Command names up to 6 bytes, lower-cased, packed into one number (a Map key without a string). */
function nameCode(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n === 0 || n > 6) return -1;
  let code = 0;
  for (let i = start; i < end; i++) code = code * 256 + (buf[i]! | 0x20);
  return code;
}

const table = new Map<number, FastCommand>();
function fast(name: string, run: FastHandler): void {
  const bytes = Buffer.from(name, 'latin1');
  const write = name !== 'get' && name !== 'mget' && name !== 'exists';
  table.set(nameCode(bytes, 0, bytes.length), { name, id: commandId(name), write, run });
}

/**
 * The fast command a request names, if any. The names are letters, and the only bytes that
 * `| 0x20` turns into a lower-case letter are that letter in either case, so a code match is a
 * case-insensitive name match.
 */
export function fastCommand(buf: Buffer, start: number, end: number): FastCommand | undefined {
  return table.get(nameCode(buf, start, end));
}

/** A key's internal form (src/keys.ts): ASCII decodes as itself. */
function key(buf: Buffer, start: number, end: number): string {
  return asciiRange(buf, start, end) ? buf.latin1Slice(start, end) : internalKey(buf.subarray(start, end));
}

fast('get', (cluster, buf, st, en, argc, reply) => {
  if (argc !== 2 || en[1]! - st[1]! > MAX_KEY_BYTES) return false;
  sendTo(cluster, Op.GET_BYTES, key(buf, st[1]!, en[1]!), undefined, reply(Kind.BULK));
  return true;
});

fast('set', (cluster, buf, st, en, argc, reply) => {
  if (argc !== 3 || en[1]! - st[1]! > MAX_KEY_BYTES || en[2]! - st[2]! > cluster.options.maxValueBytes) return false;
  sendSet(cluster, key(buf, st[1]!, en[1]!), buf, st[2]!, en[2]!, reply(Kind.OK_OR_NIL));
  return true;
});

/** The keys of a request from argument `from` on, every `step`th; null if one is too long. */
function keys(buf: Buffer, st: number[], en: number[], argc: number, from: number, step: number): string[] | null {
  const out: string[] = [];
  for (let i = from; i < argc; i += step) {
    if (en[i]! - st[i]! > MAX_KEY_BYTES) return null;
    out.push(key(buf, st[i]!, en[i]!));
  }
  return out;
}

fast('mget', (cluster, buf, st, en, argc, reply) => {
  const ks = argc >= 2 ? keys(buf, st, en, argc, 1, 1) : null;
  if (ks === null) return false;
  sendMulti(cluster, Op.MGET, ks, undefined, reply(Kind.BULK_ARRAY));
  return true;
});

const count =
  (op: number): FastHandler =>
  (cluster, buf, st, en, argc, reply) => {
    const ks = argc >= 2 ? keys(buf, st, en, argc, 1, 1) : null;
    if (ks === null) return false;
    sendMulti(cluster, op, ks, undefined, reply(Kind.INTEGER));
    return true;
  };
fast('del', count(Op.DEL));
fast('unlink', count(Op.DEL));
fast('exists', count(Op.EXISTS));

fast('mset', (cluster, buf, st, en, argc, reply) => {
  if (argc < 3 || argc % 2 === 0) return false;
  const ks = keys(buf, st, en, argc, 1, 2);
  if (ks === null) return false;
  const max = cluster.options.maxValueBytes;
  const values: (string | Uint8Array)[] = [];
  for (let i = 2; i < argc; i += 2) {
    if (en[i]! - st[i]! > max) return false;
    values.push(valueFromBytes(buf, st[i]!, en[i]!));
  }
  sendMulti(cluster, Op.MSET, ks, values, reply(Kind.OK_OR_NIL));
  return true;
});

const incr =
  (by: number): FastHandler =>
  (cluster, buf, st, en, argc, reply) => {
    if (argc !== 2 || en[1]! - st[1]! > MAX_KEY_BYTES) return false;
    sendTo(cluster, Op.INCRBY, key(buf, st[1]!, en[1]!), by, reply(Kind.INTEGER));
    return true;
  };
fast('incr', incr(1));
fast('decr', incr(-1));
