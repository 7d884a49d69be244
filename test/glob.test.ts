// Redis glob patterns for KEYS and SCAN MATCH: fixed cases, a differential check against a plain
// memoised reference that reads patterns as Redis's stringmatchlen does, and pathological patterns.
import t from 'tap';
import { Rng } from '../src/bench/workload.js';
import { compileGlob, MatchWork, matchesAll } from '../src/glob.js';

const cases: [string, string, boolean][] = [
  ['*', 'anything', true],
  ['*', '', true],
  ['h?llo', 'hello', true],
  ['h?llo', 'hllo', false],
  ['h*llo', 'heeeello', true],
  ['h**llo', 'hllo', true],
  ['h[ae]llo', 'hallo', true],
  ['h[ae]llo', 'hillo', false],
  ['h[^e]llo', 'hallo', true],
  ['h[^e]llo', 'hello', false],
  ['h[a-b]llo', 'hbllo', true],
  ['h[a-b]llo', 'hcllo', false],
  ['h[b-a]llo', 'hallo', true],
  ['h\\*llo', 'h*llo', true],
  ['h\\*llo', 'hello', false],
  ['a.b', 'a.b', true],
  ['a.b', 'axb', false],
  ['(x)+', '(x)+', true],
  ['[\\]]', ']', true],
  ['line*', 'line\nbreak', true],
  ['[^]', 'q', true],
  ['[]', ']', false],
  ['x[α-ω]', 'xβ', true],
  ['x[α]', 'xβ', false],
  ['x[^α]', 'xβ', true],
  ['[a-ω]', 'ü', true],
  // Malformed patterns, as Redis reads them: an unclosed class takes the rest of the pattern,
  // a range may end in `]`, a trailing backslash is itself.
  ['[', '[', false],
  ['a[b', 'a[b', false],
  ['a[b', 'ab', true],
  ['[^', 'x', true],
  ['x[a-]', 'x-', false],
  ['x[a-]', 'x_', true],
  ['x[a-]z]', 'x^', true],
  ['x[a-]z]', 'x^z', false],
  ['ab\\', 'ab\\', true],
  ['[a\\', '\\', true],
  // An empty key matches only an empty pattern (or `*` alone, as KEYS and SCAN treat it).
  ['', '', true],
  ['**', '', false],
  ['?', '', false],
  ['', 'a', false],
];

t.test('patterns', async (t) => {
  for (const [pattern, key, want] of cases) t.equal(compileGlob(pattern).test(key), want, `${pattern} ~ ${JSON.stringify(key)}`);
});

t.test('cache returns the same matcher', async (t) => {
  t.equal(compileGlob('user:*'), compileGlob('user:*'));
  for (let i = 0; i < 300; i++) compileGlob(`p${i}*`);
  t.ok(compileGlob('p1*').test('p1x'), 'still right after the cache is cleared');
});

t.test('matchesAll', async (t) => {
  t.equal(matchesAll(null), true);
  t.equal(matchesAll('*'), true);
  t.equal(matchesAll('a*'), false);
});

/**
 * The reference: pattern[pi..] against key[si..], recursing on every choice a `*` has, memoised.
 * Classes are read element by element with the characters left, the way stringmatchlen counts.
 */
function reference(pattern: string, key: string): boolean {
  if (pattern === '*') return true;
  if (key.length === 0) return pattern.length === 0;
  const m = pattern.length;
  const n = key.length;
  const memo = new Map<number, boolean>();
  const go = (pi: number, si: number): boolean => {
    if (si === n) return /^\**$/.test(pattern.slice(pi));
    if (pi === m) return false;
    const id = pi * (n + 1) + si;
    const known = memo.get(id);
    if (known !== undefined) return known;
    const ch = key[si]!;
    let r: boolean;
    switch (pattern[pi]) {
      case '*':
        r = go(pi + 1, si) || go(pi, si + 1);
        break;
      case '?':
        r = go(pi + 1, si + 1);
        break;
      case '\\':
        r = pi + 1 < m ? ch === pattern[pi + 1] && go(pi + 2, si + 1) : ch === '\\' && go(pi + 1, si + 1);
        break;
      case '[': {
        const [hit, next] = referenceClass(pattern, pi + 1, ch);
        r = hit && go(next, si + 1);
        break;
      }
      default:
        r = ch === pattern[pi] && go(pi + 1, si + 1);
    }
    memo.set(id, r);
    return r;
  };
  return go(0, 0);
}

/** Whether `ch` is in the class whose body starts at `at`, and where the pattern goes on. */
function referenceClass(pattern: string, at: number, ch: string): [boolean, number] {
  let left = pattern.length - at;
  let at2 = at;
  const not = left > 0 && pattern[at2] === '^';
  if (not) {
    at2++;
    left--;
  }
  let hit = false;
  while (left > 0) {
    const c = pattern[at2]!;
    if (c === '\\' && left >= 2) {
      if (pattern[at2 + 1] === ch) hit = true;
      at2 += 2;
      left -= 2;
    } else if (c === ']') {
      at2++;
      left--;
      return [hit !== not, at2];
    } else if (left >= 3 && pattern[at2 + 1] === '-') {
      const a = c.charCodeAt(0);
      const b = pattern.charCodeAt(at2 + 2);
      const x = ch.charCodeAt(0);
      if (x >= Math.min(a, b) && x <= Math.max(a, b)) hit = true;
      at2 += 3;
      left -= 3;
    } else {
      if (c === ch) hit = true;
      at2++;
      left--;
    }
  }
  return [hit !== not, at2];
}

/** A small seeded generator (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

t.test('agrees with the reference on generated patterns and keys', async (t) => {
  const random = rng(20261207);
  const patternChars = ['a', 'b', 'c', '*', '*', '?', '[', ']', '^', '-', '\\', 'é'];
  const keyChars = ['a', 'b', 'c', '-', ']', '[', '\\', '^', '*', '?', 'é', '_'];
  const pick = (from: string[], len: number): string => {
    let s = '';
    for (let i = 0; i < len; i++) s += from[Math.floor(random() * from.length)];
    return s;
  };
  let checked = 0;
  let matched = 0;
  const mismatches: string[] = [];
  for (let i = 0; i < 4000; i++) {
    const pattern = pick(patternChars, Math.floor(random() * 9));
    for (let j = 0; j < 10; j++) {
      // Half the keys come from the pattern's own characters, so matches are not rare.
      const key =
        j % 2 === 0
          ? pick(keyChars, Math.floor(random() * 9))
          : pick([...pattern.replace(/[*?\\[\]^]/g, ''), 'a', 'b'], Math.floor(random() * 7));
      const want = reference(pattern, key);
      checked++;
      if (want) matched++;
      if (compileGlob(pattern).test(key) !== want && mismatches.length < 10)
        mismatches.push(`${JSON.stringify(pattern)} ~ ${JSON.stringify(key)}: want ${want}`);
      // The same match in steps of 1 to 3 characters, resumed until decided.
      const work = new MatchWork();
      let got: boolean | null = null;
      for (let calls = 0; got === null && calls < 1000; calls++) {
        work.budget = 1 + (calls % 3);
        got = compileGlob(pattern).resume(key, work);
      }
      if (got !== want && mismatches.length < 10)
        mismatches.push(`resumed: ${JSON.stringify(pattern)} ~ ${JSON.stringify(key)}: want ${want}, got ${got}`);
    }
  }
  t.same(mismatches, [], `${checked} pairs checked`);
  t.ok(matched > checked / 20, `a fair share match (${matched})`);
});

t.test('pathological patterns finish with the right answer', async (t) => {
  const a40 = 'a'.repeat(40);
  t.equal(compileGlob('*a*a*a*a*a*a*a*a*a*a*a*a*b').test(a40), false);
  t.equal(compileGlob('*a*a*a*a*a*a*a*a*a*a*a*a*b').test(`${a40}b`), true);
  const long = 'a'.repeat(20000);
  t.equal(compileGlob(`${'a*'.repeat(300)}b`).test(long), false);
  t.equal(compileGlob(`*${'?*'.repeat(300)}[b]`).test(long), false);
  t.equal(compileGlob(`*${'[a]*'.repeat(300)}`).test(long), true);
  t.equal(compileGlob('a'.repeat(200000)).test('a'.repeat(200000)), true, 'a long literal');
});

t.test('a long match stops when its budget runs out and goes on where it stopped', async (t) => {
  const glob = compileGlob(`*${'?'.repeat(1000)}b`);
  const work = new MatchWork();
  let calls = 0;
  const run = (key: string): boolean => {
    for (;;) {
      calls++;
      work.budget = 100_000;
      const r = glob.resume(key, work);
      if (r !== null) return r;
    }
  };
  t.equal(run('a'.repeat(20_000)), false);
  t.ok(calls > 100, `no stretch of more than 100,000 steps (${calls} calls)`);
  t.equal(run(`${'a'.repeat(20_000)}b`), true);
  t.equal(work.pending, false, 'nothing left half done');
  t.ok(work.budget > 0, 'a decided match leaves the rest of the budget');
  // A class is a 32-byte bitset: a pattern of 30,000 classes compiles to a few MB.
  t.equal(compileGlob('[]'.repeat(30_000)).test('x'), false);
  t.equal(compileGlob(`[^]${'[a-c]'.repeat(3)}`).test('zabc'), true);
});

t.test("Redis's limit on * groups is kept", async (t) => {
  // Redis answers no once the 1001st group would have to match something before the end.
  t.equal(compileGlob('*a'.repeat(1000)).test('a'.repeat(1000)), true);
  t.equal(compileGlob(`${'*a'.repeat(1000)}*`).test('a'.repeat(1001)), true);
  t.equal(compileGlob('*a'.repeat(1001)).test('a'.repeat(1001)), false);
  t.equal(compileGlob(`${'*a'.repeat(1001)}*`).test('a'.repeat(1001)), false);
});
