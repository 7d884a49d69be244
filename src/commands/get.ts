// `shardcache get KEY`: reads one value from a running server (GET /keys/KEY) and prints it as it
// is stored, bytes included, followed by a newline.
import { Command } from '@oclif/core';
import { callServer, passwordFlag, urlFlag } from '../commands-shared/rest-command.js';
import { jsonFlag, keyArg, notFound } from '../commands-shared/key-command.js';

export default class Get extends Command {
  static override summary = 'Print the value of a key from a running server.';
  static override description =
    'Reads KEY from the server at --url (GET /keys/KEY) and prints its value byte for byte (and a newline on a terminal). ' +
    'A missing key prints "not found" on stderr and exits 3; an unreachable server or a server error exits 1. ' +
    'With --json: {"key","found","value","encoding"}, the value as text ("utf8") or base64 when it is not UTF-8.';

  static override examples = ['<%= config.bin %> get user:1', '<%= config.bin %> get user:1 --json --url http://10.0.0.5:9090'];

  static override args = { key: keyArg };
  static override flags = { url: urlFlag, password: passwordFlag, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Get);
    const value = await callServer(this, flags, (c) => c.getValue(args.key));
    if (value === null) return notFound(this, args.key, flags.json, { key: args.key, found: false });
    if (flags.json) {
      const text = isUtf8(value);
      this.log(
        JSON.stringify({ key: args.key, found: true, value: value.toString(text ? 'utf8' : 'base64'), encoding: text ? 'utf8' : 'base64' }),
      );
    } else process.stdout.write(process.stdout.isTTY ? Buffer.concat([value, Buffer.from('\n')]) : value);
  }
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}
