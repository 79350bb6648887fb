// Passphrases come from --passphrase-file, XSOAR_CERT_PASSPHRASE, or a prompt on a TTY:
// never from argv, where every user on the host can read them in /proc.
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { NeedsPassphraseError, readBundle } from '../pki/parse.js';
import type { Bundle } from '../pki/types.js';

export interface PassphraseSource {
  file?: string;
  /** Allow an interactive prompt (default: only when stdin and stderr are TTYs). */
  prompt?: boolean;
}

let fromFile: Map<string, string> | undefined;

export async function getPassphrase(src: PassphraseSource, forFile: string): Promise<string | undefined> {
  if (src.file) {
    fromFile ??= new Map();
    let v = fromFile.get(src.file);
    if (v === undefined) {
      try {
        v = (await readFile(src.file, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new InputError(`${src.file}: cannot read the passphrase file (${code === 'ENOENT' ? 'no such file' : code ?? 'I/O error'})`, { file: src.file });
      }
      fromFile.set(src.file, v);
    }
    return v;
  }
  const env = process.env.XSOAR_CERT_PASSPHRASE;
  if (env !== undefined && env !== '') return env;
  const interactive = src.prompt ?? (Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY));
  if (!interactive) return undefined;
  const { password } = await import('@inquirer/prompts');
  return password({ message: `Passphrase for ${forFile}:`, mask: '*' }, { output: process.stderr });
}

/** Read a file; if it turns out to be encrypted, obtain the passphrase and read it again. */
export async function readBundleWithPassphrase(file: string, src: PassphraseSource = {}): Promise<Bundle> {
  try {
    return await readBundle(file);
  } catch (err) {
    if (!(err instanceof NeedsPassphraseError)) throw err;
    const pass = await getPassphrase(src, file);
    if (pass === undefined) throw err;
    return readBundle(file, { passphrase: pass });
  }
}

/** The name the issue-2 brief uses: read `file`, asking for a passphrase once if it is encrypted. */
export const readBundleInteractive = readBundleWithPassphrase;
