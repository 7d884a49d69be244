// The only farmhash import. fingerprint32 is stable across CPUs and platforms (hash32 is not),
// so placement is identical across processes, restarts and machines.
import farmhash from 'farmhash';

/** A 32-bit hash of a string's UTF-8 bytes, or of raw bytes. */
export type HashFn = (input: string | Buffer) => number;

/** farmhash fingerprint32: the production hash. */
export const fingerprint32: HashFn = farmhash.fingerprint32;
