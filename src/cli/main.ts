import pkg from '../../package.json';
import { UsageError, type Command } from './args';
import { attackCommand } from './commands/attack';
import { backendCommand } from './commands/backend';
import { evalCommand } from './commands/eval';
import { exportCommand } from './commands/export';
import { importCommand } from './commands/import';
import { inspectCommand } from './commands/inspect';
import { quickstartCommand } from './commands/quickstart';
import { reproduceCommand } from './commands/reproduce';
import { runsCommand } from './commands/runs';
import { trainCommand } from './commands/train';
import { isInputError } from '../engine';
import { errorMessage } from '../shared/errors';
import { handleClosedOutput } from './outputClosed';

/** `fim`: the engine's functions on the command line. Parsing and printing only. */
const COMMANDS: Command[] = [
  trainCommand,
  runsCommand,
  quickstartCommand,
  backendCommand,
  inspectCommand,
  attackCommand,
  evalCommand,
  reproduceCommand,
  importCommand,
  exportCommand,
];

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'fim — FIM Inspector: Fisher-information defence, inspection and attacks for image classifiers',
    '',
    'usage: fim <command> [options]     (fim <command> --help for its options)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // Asked for: the usage on stdout. No command at all is a usage error: on stderr, exit 2.
    (name ? process.stdout : process.stderr).write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`fim: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fim ${cmd.name}: ${e.message}\n\n${cmd.usage}\n`);
      return 2;
    }
    if (isInputError(e)) {
      process.stderr.write(`fim ${cmd.name}: ${errorMessage(e)}\n`);
      return 2;
    }
    process.stderr.write(`fim ${cmd.name}: ${errorMessage(e)}\n`);
    if (process.env.FIM_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    return 1;
  }
}

handleClosedOutput();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`fim: ${errorMessage(e)}\n`);
    if (process.env.FIM_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  },
);
