// What the `shardcache cluster` commands share: the --url flag, the shard ID argument, and the call
// to the server with its one-line failure. Lives outside src/commands, where oclif would take every
// file for a command. Usage errors exit 2, runtime errors exit 1; never a stack trace.
import { Args, type Command, Errors, Flags } from '@oclif/core';
import { DEFAULT_URL, parseBaseUrl, RestClient, RestClientError } from '../client/rest.js';

/** `--url`: the server's base URL, checked at parse time (a bad one is a usage error, exit 2). */
export const urlFlag = Flags.string({
  description: 'base URL of the server',
  default: DEFAULT_URL,
  parse: async (input) => {
    try {
      return parseBaseUrl(input);
    } catch (err) {
      throw new Errors.CLIError((err as Error).message, { exit: 2 });
    }
  },
});

/** `--password` (or SHARDCACHE_PASSWORD): sent as HTTP Basic for the user `default` unless --url has `user:password@`. */
export const passwordFlag = Flags.string({
  description: "the server's password (--requirepass); or put user:password@ in --url",
  env: 'SHARDCACHE_PASSWORD',
});

/**
 * A shard id: a non-negative integer (exit 2 otherwise). Not Args.integer, whose parse errors
 * exit 1 in @oclif/core 4 (it throws a plain Error, where Flags.integer throws a CLIError).
 */
export const shardIdArg = Args.custom<number>({
  parse: async (input) => {
    const id = /^[0-9]+$/.test(input) ? Number(input) : NaN;
    if (!Number.isSafeInteger(id)) throw new Errors.CLIError(`ID must be a non-negative integer, got "${input}"`, { exit: 2 });
    return id;
  },
});

/**
 * Runs `call` against the server at `--url`, with `--password`. A RestClientError (server unreachable, an error
 * status, a reply of the wrong shape) ends the command: one line on stderr, exit 1. Not
 * `command.error()`, which wraps a long message (a long URL) over several lines.
 */
export async function callServer<T>(
  command: Command,
  flags: { url: string; password?: string | undefined },
  call: (client: RestClient) => Promise<T>,
): Promise<T> {
  try {
    return await call(new RestClient(flags.url, flags.password ?? null));
  } catch (err) {
    if (!(err instanceof RestClientError)) throw err;
    return failLine(command, err.message);
  }
}

/** Ends a command with a runtime error: `message` as one line on stderr (never wrapped), exit 1. */
export function failLine(command: Command, message: string): never {
  command.logToStderr(` ›   Error: ${message}`);
  return command.exit(1);
}
