// `shardcache set KEY VALUE [--ttl S]`: stores one value in a running server (PUT /keys/KEY).
import { Args, Command, Flags } from '@oclif/core';
import { jsonFlag, keyArg } from '../commands-shared/key-command.js';
import { callServer, passwordFlag, urlFlag } from '../commands-shared/rest-command.js';

export default class SetCommand extends Command {
  static override summary = 'Store a value in a running server.';
  static override description =
    'Stores VALUE (text, as UTF-8) under KEY in the server at --url (PUT /keys/KEY), with --ttl in seconds if given, ' +
    'and prints OK. An unreachable server, a refusal (too large, out of memory) or a read-only replica ("not leader") ' +
    'exits 1; bad arguments exit 2.';

  static override examples = ['<%= config.bin %> set user:1 alice', '<%= config.bin %> set session:9 token --ttl 3600'];

  static override args = {
    key: keyArg,
    value: Args.string({ description: 'the value (text; may be empty)', required: true }),
  };

  static override flags = {
    url: urlFlag,
    password: passwordFlag,
    ttl: Flags.integer({ description: 'expire the key after this many seconds', min: 1 }),
    json: jsonFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SetCommand);
    const { node } = await callServer(this, flags, (c) => c.setValue(args.key, Buffer.from(args.value, 'utf8'), flags.ttl));
    this.log(flags.json ? JSON.stringify({ key: args.key, ok: true, node }) : 'OK');
  }
}
