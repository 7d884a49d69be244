// `shardcache cluster add`: asks a running server to add a shard (POST /cluster/shards) and
// prints it once its keys have moved. All the work happens in the server.
import { Command } from '@oclif/core';
import { callServer, passwordFlag, urlFlag } from '../../commands-shared/rest-command.js';

export default class ClusterAdd extends Command {
  static override summary = 'Add a shard to a running server.';
  static override description =
    'Asks the server at --url (POST /cluster/shards) to start a shard and place it on the ring. Returns ' +
    'when the keys it now owns have moved to it, while the cluster keeps serving.';

  static override examples = ['<%= config.bin %> cluster add', '<%= config.bin %> cluster add --url http://10.0.0.5:9090'];

  static override flags = { url: urlFlag, password: passwordFlag };

  async run(): Promise<void> {
    const { flags } = await this.parse(ClusterAdd);
    const { shard, epoch } = await callServer(this, flags, (c) => c.addShard());
    this.log(`added ${shard.name} (id ${shard.id}, ${shard.state}); epoch ${epoch}`);
  }
}
