// What `shardcache get|set|del` share: the KEY argument, --json, and the outcomes a client of the
// seed had — ok (exit 0), error (one line on stderr, exit 1), not found (exit 3) — plus usage
// errors (exit 2). Lives outside src/commands, where oclif would take every file for a command.
import { Args, type Command, Errors, Flags } from '@oclif/core';

/** Exit code when the key does not exist. */
export const EXIT_NOT_FOUND = 3;

/** KEY: any non-empty text but `.` and `..`, which URL rules turn into path steps (use the RESP port for those). */
export const keyArg = Args.string({
  description: 'the key (text; any characters)',
  required: true,
  parse: async (input) => {
    if (input === '') throw new Errors.CLIError('KEY must not be empty', { exit: 2 });
    if (input === '.' || input === '..')
      throw new Errors.CLIError(`KEY cannot be "${input}" over REST (a URL path step); use the RESP port`, { exit: 2 });
    return input;
  },
});

export const jsonFlag = Flags.boolean({ description: 'print the outcome as one JSON object', default: false });

/** Ends the command for a missing key: a clear line (or the JSON outcome) and exit 3. */
export function notFound(command: Command, key: string, json: boolean, outcome: Record<string, unknown>): never {
  if (json) command.log(JSON.stringify(outcome));
  else command.logToStderr(`not found: ${JSON.stringify(key)}`);
  return command.exit(EXIT_NOT_FOUND);
}
