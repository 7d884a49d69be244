// Incremental RESP request parser: multibulk arrays of bulk strings (what clients send) and
// inline commands (what a person types in telnet). Bytes are kept as they arrive and nothing is
// allocated for a declared length before those bytes exist, so a huge `$` or `*` costs nothing
// until it is sent (DESIGN §8). Never throws: a malformed request yields a ProtocolError.

/** Limits, as Redis names them. */
export interface ParserLimits {
  /** Largest bulk string (proto-max-bulk-len). Default 512 MB. */
  maxBulkBytes: number;
  /** Most elements in one multibulk request. Default 1,048,576. */
  maxMultibulk: number;
  /** Largest inline request or length line. Default 64 KiB (Redis's PROTO_INLINE_MAX_SIZE). */
  maxInline: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxBulkBytes: 512 * 1024 * 1024,
  maxMultibulk: 1024 * 1024,
  maxInline: 64 * 1024,
};

/** A request the connection cannot recover from: reply `-ERR Protocol error: …` and close. */
export class ProtocolError {
  readonly message: string;
  constructor(message: string) {
    this.message = `Protocol error: ${message}`;
  }
}

/**
 * An HTTP request read on the RESP port (a request line, or a `Host:` header line, or a `POST`
 * command, as Redis checks): a web page's cross-protocol request, to be closed without running it.
 */
export class CrossProtocol extends ProtocolError {
  /** The line, cut to 128 characters, for the log. */
  readonly line: string;
  constructor(line: Buffer) {
    super('HTTP request on the RESP port');
    this.line = line.latin1Slice(0, Math.min(line.length, 128));
  }
}

/** METHOD SP request-target SP HTTP/version: the method any token (RFC 9110), the target anything without a space. */
const HTTP_REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ +[^ ]+ +HTTP\/[0-9.]+\s*$/i;
/** What Redis (since 3.2.7) takes for an attack as a command name: `POST` and `Host:`; any line starting `Host:`. */
const HTTP_MARKS = /^(?:host:|post(?:\s|$))/i;

/** Whether a line read where a request starts is HTTP rather than RESP. */
export function isHttpLine(line: Buffer): boolean {
  const text = line.latin1Slice(0, line.length);
  return HTTP_MARKS.test(text) || HTTP_REQUEST_LINE.test(text);
}

const CR = 13;
const EMPTY_LINE = Symbol('empty line');
const LF = 10;
/** Most arguments a request may have to take the one-step path (MSET of 512 pairs). */
const MAX_FAST_ARGS = 1025;

/** Parses requests from a byte stream fed in arbitrary pieces. */
export class RespParser {
  readonly limits: ParserLimits;
  /** Unparsed bytes: `#buf` from `#pos` on, then the chunks of `#more` (merged when needed). */
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #more: Buffer[] = [];
  #moreLen = 0;
  /** A multibulk in progress: how many elements it declared, and those read so far. */
  #want = -1;
  #args: Buffer[] = [];
  /** The length of the bulk string being read, once its `$` line is in. */
  #bulk = -1;

  /** Where `fast()` found a request's arguments: `buf[starts[i]..ends[i]]`. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** The read buffer `starts` and `ends` index into; it is never written to, so views of it stay valid. */
  get buf(): Buffer {
    return this.#buf;
  }

  /**
   * The common case in one step: a whole multibulk request already in the read buffer, in the
   * canonical form clients send. Returns its argument count, with the arguments' bounds in
   * `starts`/`ends` (no Buffer made per argument), or 0 when the next request is anything else —
   * incomplete, inline, odd or malformed — for next() to parse with every check. On valid input
   * both give the same arguments.
   */
  fast(): number {
    if (this.#want >= 0 || this.#moreLen > 0) return 0;
    const buf = this.#buf;
    const len = buf.length;
    let p = this.#pos;
    if (p >= len || buf[p] !== 0x2a /* '*' */) return 0;
    let n = 0;
    let digits = 0;
    for (p++; p < len && buf[p] !== CR; p++) {
      const d = buf[p]! - 0x30;
      if (d < 0 || d > 9 || ++digits > 5) return 0;
      n = n * 10 + d;
    }
    if (digits === 0 || n === 0 || n > MAX_FAST_ARGS || n > this.limits.maxMultibulk || p + 1 >= len || buf[p + 1] !== LF) return 0;
    p += 2;
    const max = this.limits.maxBulkBytes;
    for (let i = 0; i < n; i++) {
      if (p >= len || buf[p] !== 0x24 /* '$' */) return 0;
      let bulk = 0;
      digits = 0;
      for (p++; p < len && buf[p] !== CR; p++) {
        const d = buf[p]! - 0x30;
        if (d < 0 || d > 9 || ++digits > 10) return 0;
        bulk = bulk * 10 + d;
      }
      if (digits === 0 || bulk > max || p + 1 >= len || buf[p + 1] !== LF) return 0;
      p += 2;
      if (p + bulk + 2 > len) return 0;
      this.starts[i] = p;
      this.ends[i] = p + bulk;
      p += bulk + 2;
    }
    this.#pos = p;
    return n;
  }

  /** Bytes received but not yet parsed (the query buffer). */
  get buffered(): number {
    return this.#buf.length - this.#pos + this.#moreLen;
  }

  /**
   * Adds received bytes. They are only queued: a bulk string that arrives in many reads is
   * joined once, when all of it is there, not copied again with every read.
   */
  feed(chunk: Buffer): void {
    if (this.#pos >= this.#buf.length && this.#moreLen === 0) {
      this.#buf = chunk;
      this.#pos = 0;
    } else {
      this.#more.push(chunk);
      this.#moreLen += chunk.length;
    }
  }

  #merge(): void {
    if (this.#moreLen === 0) return;
    this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), ...this.#more]);
    this.#pos = 0;
    this.#more = [];
    this.#moreLen = 0;
  }

  /** The next complete request (its arguments), null when more bytes are needed, a ProtocolError, or a CrossProtocol (HTTP). */
  next(): Buffer[] | null | ProtocolError {
    for (;;) {
      if (this.#want < 0) {
        if (this.#pos >= this.#buf.length) this.#merge();
        if (this.#pos >= this.#buf.length) return null;
        if (this.#buf[this.#pos] !== 0x2a /* '*' */) {
          const inline = this.#inline();
          // An empty line is no request: go on with the next (a loop, not recursion, so any number of them is fine).
          if (inline !== EMPTY_LINE) return inline;
          continue;
        }
        const line = this.#line(this.limits.maxInline, 'too big mbulk count string');
        if (line === null || line instanceof ProtocolError) return line;
        const n = parseLength(line, 1);
        if (n === null && isHttpLine(line)) return new CrossProtocol(line);
        if (n === null || n > this.limits.maxMultibulk) return new ProtocolError('invalid multibulk length');
        if (n <= 0) continue; // `*0` and `*-1`: nothing to run, as Redis does
        this.#want = n;
        this.#args = [];
      }
      while (this.#args.length < this.#want) {
        if (this.#bulk < 0) {
          if (this.#pos >= this.#buf.length) this.#merge();
          if (this.#pos >= this.#buf.length) return null;
          if (this.#buf[this.#pos] !== 0x24 /* '$' */) {
            return new ProtocolError(`expected '$', got '${String.fromCharCode(this.#buf[this.#pos]!)}'`);
          }
          const line = this.#line(this.limits.maxInline, 'too big bulk count string');
          if (line === null || line instanceof ProtocolError) return line;
          const len = parseLength(line, 1);
          if (len === null || len < 0 || len > this.limits.maxBulkBytes) return new ProtocolError('invalid bulk length');
          this.#bulk = len;
        }
        if (this.#buf.length - this.#pos < this.#bulk + 2) {
          if (this.buffered < this.#bulk + 2) return null;
          this.#merge();
        }
        const end = this.#pos + this.#bulk;
        // A copy: the request may outlive this read buffer (values are stored).
        this.#args.push(Buffer.from(this.#buf.subarray(this.#pos, end)));
        this.#pos = end + 2;
        this.#bulk = -1;
      }
      const args = this.#args;
      this.#want = -1;
      this.#args = [];
      return args;
    }
  }

  /** The next `\r\n`-terminated line (without it), null if incomplete, or an error past `max`. */
  #line(max: number, tooBig: string): Buffer | null | ProtocolError {
    let end = this.#buf.indexOf(LF, this.#pos);
    if (end < 0 && this.#moreLen > 0) {
      this.#merge();
      end = this.#buf.indexOf(LF, this.#pos);
    }
    if (end < 0) return this.#buf.length - this.#pos > max ? new ProtocolError(tooBig) : null;
    if (end - this.#pos > max) return new ProtocolError(tooBig);
    const stop = end > this.#pos && this.#buf[end - 1] === CR ? end - 1 : end;
    const line = this.#buf.subarray(this.#pos, stop);
    this.#pos = end + 1;
    return line;
  }

  /** An inline command: words split on spaces, with Redis's quoting rules. */
  #inline(): Buffer[] | null | ProtocolError | typeof EMPTY_LINE {
    const line = this.#line(this.limits.maxInline, 'too big inline request');
    if (line === null || line instanceof ProtocolError) return line;
    // Checked on the whole line before it is split: nothing of an HTTP request ever runs.
    if (isHttpLine(line)) return new CrossProtocol(line);
    const args = splitArgs(line);
    if (args === null) return new ProtocolError('unbalanced quotes in request');
    return args.length === 0 ? EMPTY_LINE : args;
  }
}

/** A decimal length after a one-byte type prefix; null when it is not one. */
function parseLength(line: Buffer, from: number): number | null {
  if (line.length <= from || line.length - from > 12) return null;
  let i = from;
  let neg = false;
  if (line[i] === 0x2d /* '-' */) {
    neg = true;
    i++;
    if (i === line.length) return null;
  }
  let n = 0;
  for (; i < line.length; i++) {
    const d = line[i]! - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

const HEX = /^[0-9a-fA-F]{2}$/;

/**
 * Splits an inline request as Redis's sdssplitargs does: spaces separate words; "double quotes"
 * take \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes' take \'; a closing quote must be
 * followed by a space or the end. Returns null for unbalanced quotes.
 */
export function splitArgs(line: Buffer): Buffer[] | null {
  const text = line.toString('latin1');
  const out: Buffer[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) return out;
    let word = '';
    let dq = false;
    let sq = false;
    for (;;) {
      const c = text[i];
      if (dq) {
        if (c === undefined) return null;
        if (c === '\\' && text[i + 1] === 'x' && HEX.test(text.slice(i + 2, i + 4))) {
          word += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === '\\' && i + 1 < n) {
          i++;
          const e = text[i]!;
          word += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e;
        } else if (c === '"') {
          if (i + 1 < n && !/\s/.test(text[i + 1]!)) return null;
          dq = false;
          i++;
          break;
        } else word += c;
      } else if (sq) {
        if (c === undefined) return null;
        if (c === '\\' && text[i + 1] === "'") {
          word += "'";
          i++;
        } else if (c === "'") {
          if (i + 1 < n && !/\s/.test(text[i + 1]!)) return null;
          sq = false;
          i++;
          break;
        } else word += c;
      } else {
        if (c === undefined || /\s/.test(c)) break;
        if (c === '"') dq = true;
        else if (c === "'") sq = true;
        else word += c;
      }
      i++;
    }
    out.push(Buffer.from(word, 'latin1'));
  }
}
