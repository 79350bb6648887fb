// Builds the commander program from the registry of subcommands (one module each, as smallstep/cli
// lists its commands).
// Each command module registers flags and help only; its work is imported lazily
// inside the action, so `--help` never loads node-forge, execa or the PKI code.
import commander from '../cjs/commander.cjs';
import type { Command as CommandType } from 'commander';
import { VERSION } from '../version.js';
import { EXIT_CODES_HELP } from './help.js';

/** The registry: one module per subcommand under ./commands/, in help order. */
export const COMMANDS = [
  'generate',
  'csr',
  'chain',
  'verify',
  'inspect',
  'install',
  'rollback',
  'status',
  'audit',
  'renew',
  'check',
  'probe',
  'export',
  'completion',
] as const;

export type CommandName = (typeof COMMANDS)[number];

const { Command } = commander;

export async function buildProgram(argv: readonly string[] = []): Promise<CommandType> {
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
  const wanted =
    first && first !== 'completion' && (COMMANDS as readonly string[]).includes(first) ? [first] : COMMANDS;
  const modules = await Promise.all(
    wanted.map((name) => import(`./commands/${name}.js`) as Promise<{ register(p: CommandType): void }>),
  );
  for (const m of modules) m.register(program);
  program
    .allowExcessArguments(true)
    .allowUnknownOption(true)
    .action(async () => {
      const { UsageError } = await import('../errors.js');
      const unknownCommand = (w: string) => {
        const near = closest(w, COMMANDS);
        return new UsageError(
          `unknown command "${w}"${near ? ` (did you mean "${near}"?)` : ''}`,
          'Run "xsoar-cert --help" to list the commands.',
        );
      };
      const word = program.args[0];
      if (word?.startsWith('-'))
        throw new UsageError(`unknown option "${word}"`, 'Run "xsoar-cert --help" for the options.');
      if (word === 'help') {
        // `xsoar-cert help [COMMAND]` (commander adds no help command to a program with its own action).
        const sub = program.args[1];
        const cmd = sub === undefined ? program : program.commands.find((c) => c.name() === sub);
        if (!cmd) throw unknownCommand(sub!);
        cmd.outputHelp();
        return;
      }
      if (word !== undefined) throw unknownCommand(word);
      // No command: the install wizard on a terminal, the help otherwise.
      if (process.stdin.isTTY && process.stderr.isTTY) {
        const { runWizard } = await import('./wizard.js');
        const { runInstall } = await import('./commands/install.js');
        return runWizard({ chain: [], host: [], namespace: [], accept: [], timeout: '120' }, runInstall);
      }
      program.outputHelp({ error: true });
      throw new UsageError(
        'no command given',
        'Run "xsoar-cert --help" to list the commands, or run it in a terminal for the install wizard.',
      );
    });
  return program;
}

/** The command within edit distance 2 of a mistyped word (commander's suggestion, for the root). */
export function closest(word: string, names: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const x = dist(word.toLowerCase(), n);
    if (x < bestD) [best, bestD] = [n, x];
  }
  return best;
}
