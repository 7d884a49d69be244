// RESP reply encoding (RESP2, and RESP3 where a connection said HELLO 3). Every function returns
// the reply's bytes; the server writes the replies of a pipeline in one write.

const CRLF = '\r\n';

export const OK = Buffer.from('+OK\r\n');
export const PONG = Buffer.from('+PONG\r\n');
const NIL2 = Buffer.from('$-1\r\n');
const NIL_ARRAY2 = Buffer.from('*-1\r\n');
const NIL3 = Buffer.from('_\r\n');

export function simple(s: string): Buffer {
  return Buffer.from(`+${s}${CRLF}`);
}

/** An error reply; `message` starts with its code (`ERR …`, `WRONGPASS …`). CR and LF become spaces. */
export function error(message: string): Buffer {
  return Buffer.from(`-${message.replace(/[\r\n]/g, ' ')}${CRLF}`);
}

/** An integer reply: a number, a bigint, or the decimal text of an integer past 2^53. */
export function integer(n: number | bigint | string): Buffer {
  return Buffer.from(`:${n}${CRLF}`);
}

export function nil(resp3: boolean): Buffer {
  return resp3 ? NIL3 : NIL2;
}

export function nilArray(resp3: boolean): Buffer {
  return resp3 ? NIL3 : NIL_ARRAY2;
}

/** A bulk string (strings as UTF-8), or nil for null. */
export function bulk(v: string | Uint8Array | null, resp3 = false): Buffer {
  if (v === null) return nil(resp3);
  if (typeof v === 'string') {
    const len = Buffer.byteLength(v);
    const out = Buffer.allocUnsafe(len + 16 + String(len).length);
    let o = out.write(`$${len}\r\n`, 0, 'latin1');
    o += out.write(v, o);
    o += out.write(CRLF, o, 'latin1');
    return out.subarray(0, o);
  }
  return Buffer.concat([Buffer.from(`$${v.length}${CRLF}`), v, Buffer.from(CRLF)]);
}

/** An array of already-encoded replies. */
export function array(items: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${items.length}${CRLF}`), ...items]);
}

/** A map (RESP3 `%`), or a flat array of key, value, ... under RESP2. */
export function map(entries: [string, Buffer][], resp3: boolean): Buffer {
  const head = resp3 ? `%${entries.length}${CRLF}` : `*${entries.length * 2}${CRLF}`;
  return Buffer.concat([Buffer.from(head), ...entries.flatMap(([k, v]) => [bulk(k), v])]);
}

/** A verbatim-or-bulk text block (INFO, CLIENT INFO): a bulk string in RESP2, verbatim `=` in RESP3. */
export function text(s: string, resp3: boolean): Buffer {
  if (!resp3) return bulk(s);
  const body = `txt:${s}`;
  return Buffer.from(`=${Buffer.byteLength(body)}${CRLF}${body}${CRLF}`);
}
