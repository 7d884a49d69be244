// The hot commands' fast path: GET, plain SET, INCR and DECR straight from the read buffer to a
// shard queue — the key and value are decoded from the bytes in place (no Buffer per argument),
// the name is matched without building a string, and the reply slot itself receives the shard's
// answer (no promise). Whatever is unusual (options, too large, not authenticated) returns false
// and takes the general path, which has the full checks and Redis's errors.
import { isAscii } from 'node:buffer';
import { MAX_KEY_BYTES } from '../../args.js';
import { type Cluster, sendTo } from '../../cluster.js';
import { internalKey } from '../../keys.js';
import { Op } from '../../protocol.js';
import { Kind, type Reply } from './replies.js';

/** Makes the reply slot for a request and queues it on its connection. */
export type NewReply = (kind: number) => Reply;

type FastHandler = (cluster: Cluster, buf: Buffer, starts: number[], ends: number[], argc: number, reply: NewReply) => boolean;

interface FastCommand {
  name: string;
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
  table.set(nameCode(bytes, 0, bytes.length), { name, run });
}

/**
 * The fast command a request names, if any. The names are letters, and the only bytes that
 * `| 0x20` turns into a lower-case letter are that letter in either case, so a code match is a
 * case-insensitive name match.
 */
export function fastCommand(buf: Buffer, start: number, end: number): FastCommand | undefined {
  return table.get(nameCode(buf, start, end));
}

/** Bytes below 0x80 only: a short range is checked here, a long one natively. */
function ascii(buf: Buffer, start: number, end: number): boolean {
  if (end - start > 32) return isAscii(buf.subarray(start, end));
  for (let i = start; i < end; i++) if (buf[i]! > 0x7f) return false;
  return true;
}

/** A key's internal form (src/keys.ts): ASCII decodes as itself. */
function key(buf: Buffer, start: number, end: number): string {
  return ascii(buf, start, end) ? buf.toString('latin1', start, end) : internalKey(buf.subarray(start, end));
}

fast('get', (cluster, buf, st, en, argc, reply) => {
  if (argc !== 2 || en[1]! - st[1]! > MAX_KEY_BYTES) return false;
  sendTo(cluster, Op.GET, key(buf, st[1]!, en[1]!), undefined, reply(Kind.BULK));
  return true;
});

fast('set', (cluster, buf, st, en, argc, reply) => {
  if (argc !== 3 || en[1]! - st[1]! > MAX_KEY_BYTES) return false;
  const s = st[2]!;
  const e = en[2]!;
  if (e - s > cluster.options.maxValueBytes) return false;
  // As the general path stores them (args.ts wireValue): ASCII as a compact string, other bytes
  // as an exact-size copy.
  let value: string | Uint8Array;
  if (ascii(buf, s, e)) value = buf.toString('latin1', s, e);
  else {
    value = new Uint8Array(e - s);
    value.set(buf.subarray(s, e));
  }
  sendTo(cluster, Op.SET, key(buf, st[1]!, en[1]!), value, reply(Kind.OK_OR_NIL));
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
