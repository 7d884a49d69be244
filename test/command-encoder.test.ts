// The one RESP command encoder (src/resp/command-encoder.ts over ByteWriter): the bytes of
// commands with ASCII, UTF-8, binary and long arguments, and lengths across digit counts, checked
// against the request parser that reads them back and against a plain Buffer.concat rendering.
import t from 'tap';
import { ByteWriter } from '../src/byte-writer.js';
import { encodeCommand, writeCommand } from '../src/resp/command-encoder.js';
import { RespParser } from '../src/resp/request-parser.js';

/** The same command, framed the obvious way. */
function plain(args: (string | Uint8Array)[]): Buffer {
  const parts = args.map((a) => (typeof a === 'string' ? Buffer.from(a, 'utf8') : Buffer.from(a)));
  return Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...parts.flatMap((p) => [Buffer.from(`$${p.length}\r\n`), p, Buffer.from('\r\n')]),
  ]);
}

t.test('a command is an array of bulk strings', async (t) => {
  t.equal(encodeCommand(['SET', 'k', 'v']).toString('latin1'), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
  t.equal(encodeCommand([]).toString('latin1'), '*0\r\n');
  t.equal(encodeCommand(['GET', '']).toString('latin1'), '*2\r\n$3\r\nGET\r\n$0\r\n\r\n');
});

t.test('arguments of every kind read back as they were', async (t) => {
  const cases: (string | Uint8Array)[][] = [
    ['SET', 'café', 'naïve ☃ 𝄞'],
    ['SET', Buffer.from([0, 13, 10, 255]), new Uint8Array([1, 2, 3])],
    ['SET', 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(65), 'w'.repeat(100_000)],
    ['SET', `${'a'.repeat(60)}é`, '\ud800'],
    ['PXAT', String(Date.now()), '9', '10', '99', '100'],
  ];
  for (const args of cases) {
    const bytes = encodeCommand(args);
    t.same(bytes, plain(args), `bytes of ${args.length} arguments`);
    const parser = new RespParser();
    parser.feed(bytes);
    const back = parser.next();
    t.same(
      back,
      args.map((a) => (typeof a === 'string' ? Buffer.from(a, 'utf8') : Buffer.from(a))),
      'parsed back',
    );
  }
});

t.test('commands written one after another into one writer', async (t) => {
  const w = new ByteWriter(16);
  const all: (string | Uint8Array)[][] = Array.from({ length: 50 }, (_, i) => ['SET', `key:${i}`, 'v'.repeat(i * 7)]);
  for (const args of all) writeCommand(w, args);
  t.same(w.takeBuffer(), Buffer.concat(all.map(plain)));
  t.equal(w.length, 0, 'taken: the writer starts over');
});

t.test('decimal digits for lengths', async (t) => {
  const w = new ByteWriter(1);
  const ns = [0, 1, 9, 10, 11, 99, 100, 999, 1000, 65_535, 1_000_000, 2 ** 31, Number.MAX_SAFE_INTEGER];
  for (const n of ns) {
    w.decimal(n);
    w.byte(0x20);
  }
  t.equal(w.takeBuffer().toString('latin1'), ns.map((n) => `${n} `).join(''));
});
