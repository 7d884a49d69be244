// The RESP command table as a whole: importing this module registers every command family into
// registry.ts's one table, in this order (which fixes each command's id and COMMAND's listing).
// Handlers live in the family modules; nothing here runs a command.
import './connection-commands.js';
import './server-commands.js';
import './replication-commands.js';
import './info-command.js';
import './string-commands.js';
import './key-commands.js';

export { commandId, commandNames, commandSpec, NO_REPLY, type ServerContext, type Session } from './registry.js';
