// The digest command line: one commander Command per subcommand (cli/commands/*.ts), typed and
// range-checked options (cli/options.ts), help generated per command.
import { Command, Option } from 'commander';
import { addCloudCommands } from './commands/cloud.js';
import { addGraphCommands } from './commands/graph.js';
import { addLayerCommands } from './commands/layers.js';
import { addRunCommands } from './commands/run.js';
import { addSkeletonCommands } from './commands/skeleton.js';

export function buildProgram(): Command {
  const program = new Command('digest')
    .description(
      'Neuroglancer precomputed layers from EM volumes, one independent task per chunk.\n' +
        'Layers and build chunks are URLs: file:///path (or a plain path), gs://bucket/path, mem://name.',
    )
    .showHelpAfterError('(digest <command> --help for its options)')
    .exitOverride();
  addRunCommands(program);
  addLayerCommands(program);
  addGraphCommands(program);
  addSkeletonCommands(program);
  addCloudCommands(program);
  return program;
}

/** Every environment variable an option of some command reads. */
export function environmentVariables(command: Command = buildProgram()): Set<string> {
  const names = new Set<string>();
  for (const option of command.options as Option[]) if (option.envVar) names.add(option.envVar);
  for (const sub of command.commands) for (const name of environmentVariables(sub)) names.add(name);
  return names;
}
