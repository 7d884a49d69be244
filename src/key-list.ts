// Long lists of keys between a shard and the coordinator (KEYS, SCAN with a big COUNT): packed as
// a few long strings and one array of lengths, which a port copies in one go, where an array of
// millions of strings costs seconds to clone on both threads. Pure functions, no project imports.

/** Keys back to back in `texts` (one string per walk step), each key's length in `lengths`. */
export interface PackedKeys {
  texts: string[];
  lengths: Uint32Array;
}

/** A shard's list of keys: an array (short lists) or packed. */
export type KeyList = string[] | PackedKeys;

/** Builds a PackedKeys from lists of keys added step by step. */
export class KeyPacker {
  #texts: string[] = [];
  #lengths = new Uint32Array(1024);
  #n = 0;

  /** Appends `keys` (one walk step's worth). */
  add(keys: string[]): void {
    if (keys.length === 0) return;
    if (this.#n + keys.length > this.#lengths.length) {
      const grown = new Uint32Array(Math.max(this.#lengths.length * 2, this.#n + keys.length));
      grown.set(this.#lengths.subarray(0, this.#n));
      this.#lengths = grown;
    }
    for (const k of keys) this.#lengths[this.#n++] = k.length;
    this.#texts.push(keys.join(''));
  }

  /** The keys added so far. */
  done(): PackedKeys {
    return { texts: this.#texts, lengths: this.#lengths.slice(0, this.#n) };
  }
}

/** The keys of a KeyList, appended to `into`. */
export function unpackKeys(list: KeyList, into: string[] = []): string[] {
  if (Array.isArray(list)) {
    for (const k of list) into.push(k);
    return into;
  }
  const { texts, lengths } = list;
  let t = 0;
  let text = texts[0] ?? '';
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i]!;
    // An empty key needs no position; any other starts in the next text once this one is used up.
    if (len > 0 && at === text.length) {
      text = texts[++t]!;
      at = 0;
    }
    into.push(text.slice(at, at + len));
    at += len;
  }
  return into;
}
