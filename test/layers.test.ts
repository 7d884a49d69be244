// The one-way layering of src/ and workers/ (docs/architecture.md): reads every source file's
// imports and fails, listing each offending import, when one goes the wrong way; and walks what
// `import('shardcache')` loads (the compiled entry) to check the network server is not part of it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

/** The repository root: this file runs as dist/test/layers.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One import: the importing file and the file it names, both relative to the root, without extension. */
interface Edge {
  from: string;
  to: string;
}

/** Relative module specifiers of a source text: static imports and re-exports, dynamic imports, worker URLs. */
export function specifiers(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\s*['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
    /\bnew URL\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*,\s*import\.meta\.url/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]!);
  return out;
}

/** Every `.ts` file under `dir` (relative to the root). */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** The imports between project files in `files` (paths relative to the root, `.ts`). */
function edges(files: string[]): Edge[] {
  return files.flatMap((file) =>
    specifiers(readFileSync(join(ROOT, file), 'utf8')).map((spec) => ({
      from: file.replace(/\.ts$/, ''),
      to: normalize(join(dirname(file), spec)).replace(/\.js$/, ''),
    })),
  );
}

/** A rule: files matching `from` must not import files matching `to`. */
interface Rule {
  from: RegExp;
  to: RegExp;
  why: string;
}

/** The layering, one rule per arrow that must not exist (docs/architecture.md has the table). */
export const RULES: Rule[] = [
  { from: /^src\/server\//, to: /^workers\//, why: 'a front end does not import shard code' },
  { from: /^src\/replication\//, to: /^src\/server\//, why: 'replication sits below the servers' },
  {
    from: /^workers\//,
    to: /^src\/(replication|server|bench|client|commands|commands-shared)\/|^src\/cluster$/,
    why: 'a shard imports only the lower layers',
  },
  {
    from: /^src\/(resp|rdb)\/|^src\/(byte-writer|glob)$/,
    to: /^src\/(server|replication|client|bench|commands|commands-shared)\/|^src\/(cluster|index|replica-cluster)$|^workers\//,
    why: 'the shared wire layers import nothing above them',
  },
  {
    from: /^src\/(client|bench)\//,
    to: /^src\/(server\/resp|replication)\/|^workers\//,
    why: 'clients and load generators do not import a server',
  },
  {
    from: /^src\/(?!commands\/|commands-shared\/)|^workers\//,
    to: /^src\/(commands|commands-shared)\//,
    why: 'only the CLI imports the CLI',
  },
];

/** The imports that break a rule, as `from -> to (why)` lines. */
export function violations(all: Edge[], rules: Rule[]): string[] {
  const found = all.flatMap((e) =>
    rules.filter((r) => r.from.test(e.from) && r.to.test(e.to)).map((r) => `${e.from} -> ${e.to} (${r.why})`),
  );
  return [...new Set(found)];
}

t.test('no import goes the wrong way between src/ and workers/', async (t) => {
  const all = edges([...sources('src'), ...sources('workers')]);
  t.ok(all.length > 100, `the imports were found (${all.length})`);
  t.same(violations(all, RULES), [], 'imports against the layering');
});

t.test('the check finds an import that goes the wrong way', async (t) => {
  const wrong: Edge[] = [
    { from: 'src/replication/replica', to: 'src/server/resp/request-parser' },
    { from: 'workers/effects', to: 'src/replication/rdb' },
    { from: 'src/server/resp/commands', to: 'workers/glob' },
    { from: 'src/resp/reply-encoder', to: 'src/cluster' },
    { from: 'src/server/resp/server', to: 'src/resp/request-parser' },
  ];
  t.same(violations(wrong, RULES), [
    'src/replication/replica -> src/server/resp/request-parser (replication sits below the servers)',
    'workers/effects -> src/replication/rdb (a shard imports only the lower layers)',
    'src/server/resp/commands -> workers/glob (a front end does not import shard code)',
    'src/resp/reply-encoder -> src/cluster (the shared wire layers import nothing above them)',
  ]);
  t.same(
    specifiers(
      `import { a } from './a.js';\nimport type { B } from "../b.js";\nexport { c } from './c.js';\nconst d = await import('./d.js');\nnew URL('../e.js', import.meta.url);\nimport 'node:fs';`,
    ),
    ['./a.js', '../b.js', './c.js', './d.js', '../e.js'],
  );
});

/** The compiled modules `entry` loads at run time (type imports are gone from compiled code), relative to dist/. */
function loadedBy(entry: string): Set<string> {
  const dist = join(ROOT, 'dist');
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(readFileSync(join(dist, file), 'utf8'))) todo.push(normalize(join(dirname(file), spec)));
  }
  return seen;
}

t.test("import('shardcache') does not load the network server", async (t) => {
  const loaded = loadedBy('src/index.js');
  t.ok(loaded.has('src/cluster.js') && loaded.has('src/replica-cluster.js'), 'the walk follows the entry');
  const servers = [...loaded].filter((f) => /^src\/server\/(resp\/server|rest|metrics)\.js$/.test(f));
  t.same(servers, [], 'network servers in the public entry');
});
