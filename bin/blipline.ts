// Entry point of the `blipline` CLI. Subcommands live in services/cli.
process.stderr.write('blipline: no command yet\n');
process.exitCode = 2;
