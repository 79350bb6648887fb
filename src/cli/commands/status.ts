// `xsoar-cert status`: what is installed, what is served, whether they agree, what can be rolled back to.
import type { Command } from 'commander';
import { helpAfter } from '../help.js';
import { addFleetFlags, addTargetFlags, SETTINGS_HELP } from '../target-flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description(
      'show the installed and the served certificate, whether they agree, previous versions, and where the settings came from',
    );
  addFleetFlags(addTargetFlags(cmd))
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      SETTINGS_HELP +
        helpAfter(
          'xsoar-cert status -n xsoar --endpoint xsoar.example.com:443',
          'xsoar-cert status --json',
          '# every tenant, one row each (endpoints from the second column of the file):',
          'xsoar-cert status --tenants-file tenants.txt',
          'xsoar-cert status -A -l app.kubernetes.io/part-of=xsoar --json',
        ),
    )
    .action(async (flags) => {
      const { runStatus } = await import('./status-run.js');
      await runStatus(flags);
    });
}
