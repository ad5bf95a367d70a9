import { COMMANDS } from './commands.js';
import { CliUsageError, EXIT_FAILURE, EXIT_USAGE, reportCliError } from './errors.js';

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return (
    `usage: blipline <command> [options]   (blipline <command> --help for its options)\n\ncommands:\n${lines.join('\n')}\n\n` +
    `exit codes: 0 success, ${EXIT_USAGE} usage error (bad or missing arguments), ${EXIT_FAILURE} runtime failure\n` +
    `(unreadable input, bad model folder, invalid environment variable, ...). Errors are one line on stderr;\n` +
    `LOG_LEVEL=debug adds the stack of an unexpected one.\n`
  );
}

/** Runs `blipline <command> ...`; returns the process exit code. Every error ends here as one stderr line. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  try {
    const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!entry) throw new CliUsageError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
    const command = await entry.load();
    return await command(rest);
  } catch (error) {
    return reportCliError(Object.hasOwn(COMMANDS, name) ? name : '', error);
  }
}
