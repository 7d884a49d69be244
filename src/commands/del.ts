// `shardcache del KEY`: deletes one key in a running server (DELETE /keys/KEY).
import { Command } from '@oclif/core';
import { jsonFlag, keyArg, notFound } from '../commands-shared/key-command.js';
import { callServer, passwordFlag, urlFlag } from '../commands-shared/rest-command.js';

export default class Del extends Command {
  static override summary = 'Delete a key in a running server.';
  static override description =
    'Deletes KEY in the server at --url (DELETE /keys/KEY) and prints OK. A missing key prints "not found" on ' +
    'stderr and exits 3; an unreachable server, a server error or a read-only replica ("not leader") exits 1.';

  static override examples = ['<%= config.bin %> del user:1'];

  static override args = { key: keyArg };
  static override flags = { url: urlFlag, password: passwordFlag, json: jsonFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Del);
    const deleted = await callServer(this, flags, (c) => c.deleteValue(args.key));
    if (!deleted) return notFound(this, args.key, flags.json, { key: args.key, deleted: false });
    this.log(flags.json ? JSON.stringify({ key: args.key, deleted: true }) : 'OK');
  }
}
