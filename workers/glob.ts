// Redis-style glob patterns (KEYS, SCAN MATCH) compiled to a RegExp once and cached.
// `*` any run, `?` one character, `[abc]` `[^a]` `[a-z]` classes, `\x` a literal x.
// Keys are matched in their internal string form (src/keys.ts), so `?` is one character of a
// UTF-8 key, where Redis would match one byte: documented in the README.

const cache = new Map<string, RegExp>();

function escapeChar(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** Compiles a glob to an anchored RegExp. Never throws: a lone `[` matches itself. */
export function compileGlob(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      while (pattern[i + 1] === '*') i++;
      src += '[\\s\\S]*';
    } else if (c === '?') src += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) src += escapeChar(pattern[++i]!);
    else if (c === '[') {
      const close = findClassEnd(pattern, i + 1);
      if (close < 0) {
        src += '\\[';
        continue;
      }
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^') {
        cls += '^';
        j++;
      }
      for (; j < close; j++) {
        const d = pattern[j]!;
        if (d === '\\' && j + 1 < close) cls += escapeChar(pattern[++j]!);
        else if (d === '-' && cls.length > 0 && cls !== '^' && j + 1 < close) cls += '-';
        else cls += escapeChar(d);
      }
      src += cls === '' ? '(?!)' : cls === '^' ? '[\\s\\S]' : `[${cls}]`;
      i = close;
    } else src += escapeChar(c);
  }
  const re = new RegExp(`^${src}$`);
  if (cache.size > 256) cache.clear();
  cache.set(pattern, re);
  return re;
}

function findClassEnd(pattern: string, from: number): number {
  for (let j = from; j < pattern.length; j++) {
    if (pattern[j] === '\\') j++;
    else if (pattern[j] === ']' && j > from) return j;
  }
  return -1;
}

/** True when the pattern matches every key (`*`), so callers can skip matching. */
export function matchesAll(pattern: string | null): boolean {
  return pattern === null || pattern === '*';
}
