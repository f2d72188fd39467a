#!/usr/bin/env node
// The digest command line: one commander Command per subcommand (engine/commands-*.ts), typed and
// range-checked options (engine/options.ts), help generated per command.
import { Command, CommanderError } from 'commander';
import { messageOf } from '../common/errors.js';
import { logEvent } from '../common/log.js';
import { addCloudCommands } from './commands-cloud.js';
import { addLayerCommands } from './commands-layers.js';
import { addRunCommands } from './commands-run.js';

export function buildProgram(): Command {
  const program = new Command('digest')
    .description('Neuroglancer precomputed layers from EM volumes, one independent task per chunk.\n'
      + 'Layers and build chunks are URLs: file:///path (or a plain path), gs://bucket/path, mem://name.')
    .showHelpAfterError('(digest <command> --help for its options)')
    .exitOverride();
  addRunCommands(program);
  addLayerCommands(program);
  addCloudCommands(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  process.exitCode = 0;
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; a usage error has been printed by commander already.
      return e.exitCode === 0 ? 0 : 2;
    }
    console.error(`digest: ${messageOf(e)}`);
    return 1;
  }
  return Number(process.exitCode ?? 0);
}

// Node's own warnings (e.g. from the Google clients) as log events too.
process.removeAllListeners('warning');
process.on('warning', (w) => logEvent('WARNING', w.message, { name: w.name }));

main(process.argv.slice(2)).then((code) => process.exit(code));
