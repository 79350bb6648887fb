// The passphrase prompt on a terminal (masked), registered for ops by main.ts through
// ops/prompt-hook.ts, so ops asks without importing the cli.
export async function promptPassphrase(forFile: string): Promise<string | undefined> {
  const { password } = await import('@inquirer/prompts');
  return password({ message: `Passphrase for ${forFile}:`, mask: '*' }, { output: process.stderr });
}
