// The passphrase prompt on a terminal (masked), registered for ops by main.ts; and the file
// readers the commands use, which live in ops/inputs.ts.
export {
  getPassphrase,
  readBundleWithPassphrase,
  readBundleInteractive,
  type PassphraseSource,
} from '../ops/inputs.js';

export async function promptPassphrase(forFile: string): Promise<string | undefined> {
  const { password } = await import('@inquirer/prompts');
  return password({ message: `Passphrase for ${forFile}:`, mask: '*' }, { output: process.stderr });
}
