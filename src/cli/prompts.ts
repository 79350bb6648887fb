// Every inquirer call lives here (STYLE habit 12); loaded only on a TTY.
export async function confirmPrompt(message: string, dflt = false): Promise<boolean> {
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message, default: dflt }, { output: process.stderr });
}
