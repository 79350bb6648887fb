// Placeholder until its issue lands: registers the command so the registry is complete.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('generate')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(async () => {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError('"generate" is not available in this build yet');
    });
}
