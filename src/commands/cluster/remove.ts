// `shardcache cluster remove ID`: asks a running server to remove a shard (DELETE
// /cluster/shards/ID) and prints what went once its keys have moved. All the work happens in the server.
import { Command } from '@oclif/core';
import { callServer, passwordFlag, shardIdArg, urlFlag } from '../../commands-shared/rest-command.js';

export default class ClusterRemove extends Command {
  static override summary = 'Remove a shard from a running server.';
  static override description =
    'Asks the server at --url (DELETE /cluster/shards/ID) to take shard ID off the ring. Returns when its ' +
    'keys have moved to their new owners and its worker has stopped. The last shard cannot be removed.';

  static override examples = ['<%= config.bin %> cluster remove 2', '<%= config.bin %> cluster remove 2 --url http://10.0.0.5:9090'];

  static override args = {
    id: shardIdArg({ description: 'shard id: the N of node-N (see `cluster status`)', required: true }),
  };

  static override flags = { url: urlFlag, password: passwordFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ClusterRemove);
    const { removed, epoch } = await callServer(this, flags, (c) => c.removeShard(args.id));
    this.log(`removed shard ${removed}; epoch ${epoch}`);
  }
}
