// The README stays true: its errors table lists exactly the codes in src/errors.ts, and its
// embedding example runs as written (importing the package by its name).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ERROR_CODES } from '../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('errors table matches the error codes', async (t) => {
  const section = readme.slice(readme.indexOf('### Errors'));
  const codes = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same(codes, ERROR_CODES);
});

t.test('the embedding example runs', async (t) => {
  const block = /## Embedding\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme);
  t.ok(block, 'found the example');
  const file = fileURLToPath(new URL('./readme-example.mjs', import.meta.url));
  writeFileSync(file, block![1]!);
  t.teardown(() => rmSync(file, { force: true }));
  const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
  t.equal(out, ['Ada', "[ '1', '2', null ]", '5', '60', 'EINVAL', ''].join('\n'));
});
