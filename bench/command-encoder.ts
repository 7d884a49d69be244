// bench:encode — the one RESP command encoder (src/resp/command-encoder.ts) on its two hot paths:
// a client's pipeline (16 GET/SET commands per write, as RespClient sends them) and a shard's
// replication effects (SET/DEL/SET PXAT of binary keys), in ns per command, beside the plainest
// alternative — building the pipeline as one string and encoding it once — as a ratio. CPU time
// of this process only; it opens no socket and stops by itself.
//
//   npm run bench:encode -- [--rounds 5] [--commands 2000000] [--value-size 100] [--json]
import { parseArgs } from 'node:util';
import { ByteWriter } from '../src/byte-writer.js';
import { writeCommand } from '../src/resp/command-encoder.js';
import { reportLines, requirePositiveInts } from './common.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    commands: { type: 'string', default: '2000000' },
    'value-size': { type: 'string', default: '100' },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Number(args.rounds);
const commands = Number(args.commands);
const valueSize = Number(args['value-size']);
requirePositiveInts({ rounds, commands, 'value-size': valueSize });
const line = reportLines(args.json);

const PIPELINE = 16;
const value = 'v'.repeat(valueSize);
const pipeline: string[][] = Array.from({ length: PIPELINE }, (_, i) =>
  i % 2 === 0 ? ['GET', `key:${100_000 + i}`] : ['SET', `key:${100_000 + i}`, value],
);
const keys = Array.from({ length: 1000 }, (_, i) => Buffer.from(`key:${100_000 + i}`));
const binary = Buffer.alloc(valueSize, 0xfe);
let sink = 0;

/** CPU ns per command of `run(n)` (which encodes n commands). */
function nsPer(run: (n: number) => void): number {
  const before = process.cpuUsage();
  run(commands);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / commands;
}

/** The pipeline as one string, UTF-8-encoded once: the alternative to a byte writer. */
function stringPipeline(n: number): void {
  for (let done = 0; done < n; done += PIPELINE) {
    let out = '';
    for (const args of pipeline) {
      out += `*${args.length}\r\n`;
      for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    }
    sink += Buffer.from(out, 'utf8').length;
  }
}

const client = new ByteWriter();
function writerPipeline(n: number): void {
  for (let done = 0; done < n; done += PIPELINE) {
    for (const args of pipeline) writeCommand(client, args);
    sink += client.takeBuffer().length;
  }
}

const shard = new ByteWriter(64 * 1024);
function effects(n: number): void {
  for (let done = 0; done < n; done += keys.length) {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (i % 10 === 0) writeCommand(shard, ['DEL', k]);
      else if (i % 3 === 0) writeCommand(shard, ['SET', k, binary, 'PXAT', String(1_765_000_000_000 + i)]);
      else writeCommand(shard, ['SET', k, i % 2 === 0 ? binary : value]);
    }
    sink += shard.take().byteLength;
  }
}

const figures = { stringPipeline: [] as number[], writerPipeline: [] as number[], effects: [] as number[] };
for (let r = 0; r < rounds; r++) {
  figures.stringPipeline.push(nsPer(stringPipeline));
  figures.writerPipeline.push(nsPer(writerPipeline));
  figures.effects.push(nsPer(effects));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result = {
  rounds,
  commands,
  valueSize,
  nsPerCommand: {
    stringPipeline: median(figures.stringPipeline),
    writerPipeline: median(figures.writerPipeline),
    effects: median(figures.effects),
  },
  writerVsString: median(figures.writerPipeline) / median(figures.stringPipeline),
  bytes: sink,
};
line(`client pipeline, one string encoded once: ${result.nsPerCommand.stringPipeline.toFixed(0)} ns/command (median of ${rounds})`);
line(
  `client pipeline, ByteWriter + writeCommand: ${result.nsPerCommand.writerPipeline.toFixed(0)} ns/command (${result.writerVsString.toFixed(2)}× the string's)`,
);
line(`shard effects (SET/DEL/SET PXAT, binary keys): ${result.nsPerCommand.effects.toFixed(0)} ns/command`);
if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
