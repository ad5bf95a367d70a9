// Entry point of the `blipline` CLI. Subcommands live in services/cli.
import { runCli } from '../services/cli/index.js';

process.exitCode = await runCli(process.argv.slice(2));
