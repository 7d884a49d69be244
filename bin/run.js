#!/usr/bin/env node
// The shardcache CLI entry (oclif). No logic here: commands live in dist/src/commands.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
