// Builds the commander program from the registry of subcommands (STYLE habit 1).
// Each command module registers flags and help only; its work is imported lazily
// inside the action, so `--help` never loads node-forge, execa or the PKI code.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { EXIT_CODES_HELP } from './help.js';

/** The registry: one module per subcommand under ./commands/, in help order. */
export const COMMANDS = [
  'generate',
  'chain',
  'verify',
  'inspect',
  'install',
  'rollback',
  'status',
  'audit',
  'renew',
  'probe',
  'completion',
] as const;

export type CommandName = (typeof COMMANDS)[number];

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('xsoar-cert')
    .description('Replace the HTTPS certificate of a Kubernetes-hosted appliance tenant (Cortex XSOAR 8) safely.')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    .addHelpText('after', EXIT_CODES_HELP);
  // Running one command registers only that one (each module costs start-up time: see the
  // verify bench); help, completion and unknown words get the whole registry.
  const first = argv[0] as CommandName | undefined;
  const wanted = first && first !== 'completion' && (COMMANDS as readonly string[]).includes(first) ? [first] : COMMANDS;
  const modules = await Promise.all(
    wanted.map((name) => import(`./commands/${name}.js`) as Promise<{ register(p: Command): void }>),
  );
  for (const m of modules) m.register(program);
  program.action(async () => {
    // No subcommand: the wizard on a TTY (issue 5), the help otherwise.
    program.outputHelp();
    const { UsageError } = await import('../errors.js');
    throw new UsageError('no command given', 'Run "xsoar-cert --help" to list the commands.');
  });
  return program;
}
