// Redis glob patterns for KEYS and SCAN MATCH.
import t from 'tap';
import { compileGlob, matchesAll } from '../workers/glob.js';

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
  ['h\\*llo', 'h*llo', true],
  ['h\\*llo', 'hello', false],
  ['a.b', 'a.b', true],
  ['a.b', 'axb', false],
  ['(x)+', '(x)+', true],
  ['[', '[', true],
  ['a[b', 'a[b', true],
  ['[\\]]', ']', true],
  ['x[a-]', 'x-', true],
  ['line*', 'line\nbreak', true],
  ['[^]', 'q', true],
];

t.test('patterns', async (t) => {
  for (const [pattern, key, want] of cases) t.equal(compileGlob(pattern).test(key), want, `${pattern} ~ ${JSON.stringify(key)}`);
});

t.test('cache returns the same RegExp', async (t) => {
  t.equal(compileGlob('user:*'), compileGlob('user:*'));
  for (let i = 0; i < 300; i++) compileGlob(`p${i}*`);
  t.ok(compileGlob('p1*').test('p1x'), 'still right after the cache is cleared');
});

t.test('matchesAll', async (t) => {
  t.equal(matchesAll(null), true);
  t.equal(matchesAll('*'), true);
  t.equal(matchesAll('a*'), false);
});
