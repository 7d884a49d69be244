// The RESP request parser, fed whole, byte by byte, and split at every boundary.
import t from 'tap';
import { ProtocolError, RespParser, splitArgs } from '../src/resp/request-parser.js';

/** Every request parsed so far; with `fast`, as the server does: the one-step path first. */
function parseAll(p: RespParser, fast = false): (string[] | string)[] {
  const out: (string[] | string)[] = [];
  for (;;) {
    const argc = fast ? p.fast() : 0;
    if (argc > 0) {
      out.push(Array.from({ length: argc }, (_, i) => p.buf.toString('latin1', p.starts[i], p.ends[i])));
      continue;
    }
    const r = p.next();
    if (r === null) return out;
    if (r instanceof ProtocolError) {
      out.push(r.message);
      return out;
    }
    out.push(r.map((b) => b.toString('latin1')));
  }
}

const stream = Buffer.from(
  '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n' + // binary-safe: CRLF inside a value
    'PING\r\n' +
    '*1\r\n$4\r\nPING\r\n' +
    '  set   "a b"  \'c d\'  \r\n' +
    '*0\r\n' +
    '\r\n' +
    '*2\r\n$3\r\nGET\r\n$0\r\n\r\n',
  'latin1',
);
const expected = [['SET', 'k', 'va\r\nl'], ['PING'], ['PING'], ['set', 'a b', 'c d'], ['GET', '']];

for (const fast of [false, true]) {
  t.test(`whole, byte by byte, and split at every boundary${fast ? ' (one-step path first)' : ''}`, async (t) => {
    const whole = new RespParser();
    whole.feed(stream);
    t.same(parseAll(whole, fast), expected, 'whole');

    const bytes = new RespParser();
    const got: (string[] | string)[] = [];
    for (let i = 0; i < stream.length; i++) {
      bytes.feed(stream.subarray(i, i + 1));
      got.push(...parseAll(bytes, fast));
    }
    t.same(got, expected, 'byte by byte');

    let bad = 0;
    for (let cut = 1; cut < stream.length; cut++) {
      const p = new RespParser();
      p.feed(stream.subarray(0, cut));
      const a = parseAll(p, fast);
      p.feed(stream.subarray(cut));
      if (JSON.stringify([...a, ...parseAll(p, fast)]) !== JSON.stringify(expected)) bad++;
    }
    t.equal(bad, 0, 'every split point');
    t.equal(whole.buffered, 0);
  });
}

t.test('the one-step path takes only whole, canonical multibulk requests', async (t) => {
  const one = (input: string, limits?: Partial<{ maxBulkBytes: number; maxMultibulk: number }>) => {
    const p = new RespParser(limits);
    p.feed(Buffer.from(input, 'latin1'));
    return p.fast();
  };
  t.equal(one('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'), 2, 'a whole request');
  t.equal(one('*2\r\n$03\r\nGET\r\n$1\r\nk\r\n'), 2, 'leading zeros are still digits');
  const left: [string, string][] = [
    ['*2\r\n$3\r\nGET\r\n$1\r\nk\r', 'incomplete'],
    ['*2\r\n$3\r\nGET\r\n', 'an element missing'],
    ['*2\r\n$3\r\nGET\r\n$1', 'an unfinished length'],
    ['*2\r\n$3\r\nGET\r\n$', 'an empty length'],
    ['*2', 'an unfinished count'],
    ['*', 'no count'],
    ['PING\r\n', 'inline'],
    ['*0\r\n', 'an empty request'],
    ['*-1\r\n', 'a negative count'],
    ['*1\n$4\r\nPING\r\n', 'a bare LF'],
    ['*1\r\n$4\nPING\r\n', 'a bare LF after a length'],
    ['*1\r\n$-1\r\n', 'a negative length'],
    ['*1\r\n:1\r\n', 'not a bulk'],
    ['*1\r\n$x\r\n', 'not a length'],
    ['*123456\r\n', 'more arguments than the one-step path takes'],
    ['*1\r\n$12345678901\r\n', 'a length of eleven digits'],
  ];
  for (const [input, why] of left) t.equal(one(input), 0, why);
  t.equal(one('*3\r\n', { maxMultibulk: 2 }), 0, 'over maxMultibulk');
  t.equal(one('*1\r\n$20\r\n', { maxBulkBytes: 10 }), 0, 'over maxBulkBytes');
  const mid = new RespParser();
  mid.feed(Buffer.from('*2\r\n$3\r\nGET\r\n'));
  t.equal(mid.next(), null, 'the general parser is mid-request');
  mid.feed(Buffer.from('$1\r\nk\r\n*1\r\n$4\r\nPING\r\n'));
  t.equal(mid.fast(), 0, 'so the one-step path leaves it alone');
  t.same(parseAll(mid, true), [['GET', 'k'], ['PING']], 'and both requests come out whole');
});

t.test('protocol errors', async (t) => {
  const cases: [string, string, Partial<{ maxBulkBytes: number; maxMultibulk: number; maxInline: number }>?][] = [
    ['*2\r\n$3\r\nGET\r\n:1\r\n', "Protocol error: expected '$', got ':'"],
    ['*x\r\n', 'Protocol error: invalid multibulk length'],
    ['*2000000\r\n', 'Protocol error: invalid multibulk length'],
    ['*1\r\n$-1\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$abc\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$600000000\r\n', 'Protocol error: invalid bulk length'],
    ['*1\r\n$20\r\n', 'Protocol error: invalid bulk length', { maxBulkBytes: 10 }],
    ['set "a\r\n', 'Protocol error: unbalanced quotes in request'],
    ['set "a"b\r\n', 'Protocol error: unbalanced quotes in request'],
    [`${'x'.repeat(100)}`, 'Protocol error: too big inline request', { maxInline: 50 }],
    [`*1\r\n$${'1'.repeat(80)}`, 'Protocol error: too big bulk count string', { maxInline: 50 }],
  ];
  for (const [input, message, limits] of cases) {
    const p = new RespParser(limits);
    p.feed(Buffer.from(input, 'latin1'));
    const r = p.next();
    t.ok(r instanceof ProtocolError, JSON.stringify(input));
    t.equal((r as ProtocolError).message, message);
  }
});

t.test('a huge declared bulk allocates nothing before its bytes arrive', async (t) => {
  const p = new RespParser();
  p.feed(Buffer.from('*2\r\n$3\r\nSET\r\n$500000000\r\n'));
  const before = process.memoryUsage().arrayBuffers;
  t.equal(p.next(), null, 'waits');
  t.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, 'no 500 MB buffer');
  // A large value arriving in many pieces is joined once, not re-copied per piece.
  const q = new RespParser();
  const value = Buffer.alloc(4 * 1024 * 1024, 7);
  q.feed(Buffer.from(`*2\r\n$3\r\nSET\r\n$${value.length}\r\n`));
  let early = 0;
  for (let i = 0; i < value.length; i += 1000) {
    q.feed(value.subarray(i, i + 1000));
    if (q.next() !== null) early++;
  }
  t.equal(early, 0, 'nothing parsed before the closing CRLF');
  q.feed(Buffer.from('\r\n'));
  const r = q.next() as Buffer[];
  t.ok(r[1]!.equals(value), 'the value, intact');
});

t.test('any number of empty lines is no request, and no recursion', async (t) => {
  const p = new RespParser();
  p.feed(Buffer.concat([Buffer.alloc(200_000, 10), Buffer.from(' \r\n'.repeat(50_000)), Buffer.from('PING\r\n')]));
  t.same(parseAll(p), [['PING']]);
});

t.test('inline quoting', async (t) => {
  const split = (s: string) => splitArgs(Buffer.from(s, 'latin1'))?.map((b) => b.toString('latin1'));
  t.same(split('a "b c" \'d e\''), ['a', 'b c', 'd e']);
  t.same(split('"\\x41\\n\\t\\"q\\""'), ['A\n\t"q"']);
  t.same(split("'it\\'s'"), ["it's"]);
  t.same(split('   '), []);
  t.equal(split('"open'), undefined);
  t.equal(split("'open"), undefined);
});
