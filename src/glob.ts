// Redis-style glob patterns (KEYS, SCAN MATCH, CONFIG GET) parsed once into tokens and matched in
// O(key length × pattern length); it must never backtrack (no RegExp), whatever the pattern.
// Keys match in their internal string form (src/keys.ts): `?` is a character, not a byte (README).

/** A compiled glob: `test(key)` says whether the key matches. */
export interface Glob {
  test(key: string): boolean;
  /**
   * Matches with at most `work.budget` steps (one step: one character of the key looked at):
   * true or false once decided, null when the budget ran out first — call again with the same
   * key and `work` to go on where it stopped (a walk yields in between).
   */
  resume(key: string, work: MatchWork): boolean | null;
}

/**
 * A match in progress, and the steps a walk still allows before it yields. One per walk: it
 * carries where a match of one key stopped when its budget ran out.
 */
export class MatchWork {
  /** Steps left before the walk should yield; a walk refills it after each yield. */
  budget = 0;
  /** A match stopped part way (the next call is for the same key). */
  pending = false;
  p = 0;
  s = 0;
  starP = -1;
  starS = 0;
}

const STAR = -1;
const ANY = -2;
/** Tokens >= CLASS_BASE are classes: index (token - CLASS_BASE) into the class list. */
const CLASS_BASE = 0x110000;
/** Redis stops looking past this many `*` groups (its guard against deep recursion): kept, so answers agree. */
const MAX_STARS = 1000;

/** `[...]`: single characters and inclusive ranges, maybe negated. */
class CharClass {
  readonly negate: boolean;
  /** Membership of codes below 256, precomputed: one bit each (32 bytes a class). */
  readonly #low = new Uint32Array(8);
  /** Ranges touching codes from 256 up: [lo, hi, lo, hi, ...]. */
  readonly #high: number[] = [];

  constructor(negate: boolean, ranges: number[]) {
    this.negate = negate;
    for (let i = 0; i < ranges.length; i += 2) {
      const lo = ranges[i]!;
      const hi = ranges[i + 1]!;
      for (let c = lo; c <= hi && c < 256; c++) this.#low[c >> 5]! |= 1 << (c & 31);
      if (hi >= 256) this.#high.push(Math.max(lo, 256), hi);
    }
  }

  has(c: number): boolean {
    let hit: boolean;
    if (c < 256) hit = (this.#low[c >> 5]! & (1 << (c & 31))) !== 0;
    else {
      hit = false;
      const h = this.#high;
      for (let i = 0; i < h.length && !hit; i += 2) hit = c >= h[i]! && c <= h[i + 1]!;
    }
    return hit !== this.negate;
  }
}

/**
 * A pattern as Redis's stringmatchlen reads it: `*` any run (runs collapse), `?` one character,
 * `\x` a literal x (a trailing `\` is itself), `[...]` a class — `^` first negates, `\x` is a
 * literal, `a-z` an inclusive range (either order; a range may end in `]`), the first `]` closes
 * (so `[]` matches nothing and `[^]` anything), an unclosed class takes the rest of the pattern.
 */
class Pattern implements Glob {
  /** One entry per pattern element: STAR, ANY, a character code, or CLASS_BASE + class index. */
  readonly #tokens: Int32Array;
  readonly #classes: CharClass[];
  readonly #empty: boolean;
  /**
   * Matches every key (`*` alone, the empty key too, as KEYS and SCAN do; Redis's matcher by itself
   * never matches an empty string), or none (past Redis's `*` limit).
   */
  readonly #all: boolean;
  readonly #none: boolean;
  /** Only literal characters: the key must equal this. */
  readonly #literal: string | null;

  constructor(pattern: string) {
    const tokens: number[] = [];
    const classes: CharClass[] = [];
    const m = pattern.length;
    let stars = 0;
    let i = 0;
    while (i < m) {
      const c = pattern.charCodeAt(i);
      if (c === 0x2a /* * */) {
        while (pattern.charCodeAt(i + 1) === 0x2a) i++;
        tokens.push(STAR);
        stars++;
        i++;
      } else if (c === 0x3f /* ? */) {
        tokens.push(ANY);
        i++;
      } else if (c === 0x5c /* \ */) {
        tokens.push(i + 1 < m ? pattern.charCodeAt(i + 1) : c);
        i += i + 1 < m ? 2 : 1;
      } else if (c === 0x5b /* [ */) {
        i = parseClass(pattern, i + 1, classes);
        tokens.push(CLASS_BASE + classes.length - 1);
      } else {
        tokens.push(c);
        i++;
      }
    }
    this.#tokens = Int32Array.from(tokens);
    this.#classes = classes;
    this.#empty = m === 0;
    this.#all = pattern === '*';
    // The (MAX_STARS + 1)th `*` group matches only as the pattern's last element (see MAX_STARS).
    this.#none = stars > MAX_STARS + 1 || (stars === MAX_STARS + 1 && tokens[tokens.length - 1] !== STAR);
    let literal: string | null = '';
    for (let k = 0; k < tokens.length && literal !== null; k++) {
      const t = tokens[k]!;
      literal = t >= 0 && t < CLASS_BASE ? literal + String.fromCharCode(t) : null;
    }
    this.#literal = literal;
  }

  test(key: string): boolean {
    const work = scratch;
    work.pending = false;
    work.budget = Number.POSITIVE_INFINITY;
    return this.resume(key, work)!;
  }

  resume(key: string, work: MatchWork): boolean | null {
    if (this.#all) return true;
    if (this.#none) return false;
    if (this.#literal !== null) return key === this.#literal;
    const n = key.length;
    // Redis compares while both have characters left: an empty key matches only an empty pattern.
    if (n === 0) return this.#empty;
    const tokens = this.#tokens;
    const m = tokens.length;
    let p = 0;
    let s = 0;
    // The last `*` seen and where its run of the key ends for now: on a mismatch it takes one
    // more character. Every other element takes exactly one character, so earlier `*`s never
    // need to change: O(n·m) at most.
    let starP = -1;
    let starS = 0;
    if (work.pending) {
      ({ p, s, starP, starS } = work);
      work.pending = false;
    }
    let budget = work.budget;
    while (s < n) {
      if (--budget < 0) {
        // Out of steps: keep the place, the walk yields and calls again.
        work.p = p;
        work.s = s;
        work.starP = starP;
        work.starS = starS;
        work.pending = true;
        work.budget = 0;
        return null;
      }
      if (p < m) {
        const t = tokens[p]!;
        if (t === STAR) {
          starP = p++;
          starS = s;
          continue;
        }
        if (this.#one(t, key.charCodeAt(s))) {
          p++;
          s++;
          continue;
        }
      }
      if (starP < 0) {
        work.budget = budget;
        return false;
      }
      p = starP + 1;
      s = ++starS;
    }
    work.budget = budget;
    while (p < m && tokens[p] === STAR) p++;
    return p === m;
  }

  #one(t: number, c: number): boolean {
    if (t >= CLASS_BASE) return this.#classes[t - CLASS_BASE]!.has(c);
    return t === ANY || t === c;
  }
}

/** Parses a class body from `j` (just past `[`) into `classes`; returns where the pattern goes on. */
function parseClass(pattern: string, j: number, classes: CharClass[]): number {
  const m = pattern.length;
  const negate = j < m && pattern.charCodeAt(j) === 0x5e; /* ^ */
  if (negate) j++;
  const ranges: number[] = [];
  for (;;) {
    if (j >= m) break; // unclosed: the class took the rest of the pattern
    const c = pattern.charCodeAt(j);
    if (c === 0x5c /* \ */ && j + 1 < m) {
      const x = pattern.charCodeAt(j + 1);
      ranges.push(x, x);
      j += 2;
    } else if (c === 0x5d /* ] */) {
      j++;
      break;
    } else if (j + 2 < m && pattern.charCodeAt(j + 1) === 0x2d /* - */) {
      const e = pattern.charCodeAt(j + 2);
      ranges.push(Math.min(c, e), Math.max(c, e));
      j += 3;
    } else {
      ranges.push(c, c);
      j++;
    }
  }
  classes.push(new CharClass(negate, ranges));
  return j;
}

/** test()'s match state: matching is synchronous, so one will do. */
const scratch = new MatchWork();

const cache = new Map<string, Glob>();

/** Characters of the patterns the cache holds at most. */
const CACHE_CHARS = 1024 * 1024;
let cachedChars = 0;

/**
 * Compiles a glob (cached, up to 1M pattern characters in all). Never throws: any string is a
 * pattern, read as Redis reads it; the cluster refuses patterns over MAX_PATTERN_LENGTH first
 * (src/args.ts).
 */
export function compileGlob(pattern: string): Glob {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  const glob = new Pattern(pattern);
  if (cache.size > 256 || cachedChars + pattern.length > CACHE_CHARS) {
    cache.clear();
    cachedChars = 0;
  }
  cache.set(pattern, glob);
  cachedChars += pattern.length;
  return glob;
}

/** True when the pattern matches every key (`*`), so callers can skip matching. */
export function matchesAll(pattern: string | null): boolean {
  return pattern === null || pattern === '*';
}
