#!/usr/bin/env node
// The digest command line (cli/program.ts builds it): runs it, and turns errors into one line
// and an exit code (1: the work failed, 2: the command was wrong).
import { CommanderError } from 'commander';
import { messageOf } from '../common/errors.js';
import { logEvent, logFormat, logWarnings } from '../common/log.js';
import { buildProgram } from './program.js';

async function main(argv: string[]): Promise<number> {
  process.exitCode = 0;
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; a usage error has been printed by commander already.
      return e.exitCode === 0 ? 0 : 2;
    }
    // Commands that log JSON (publish, work) end in a JSON line too.
    if (logFormat() === 'json') logEvent('ERROR', messageOf(e));
    else console.error(`digest: ${messageOf(e)}`);
    return 1;
  }
  return Number(process.exitCode ?? 0);
}

logWarnings();

main(process.argv.slice(2)).then((code) => process.exit(code));
