// Reading the user's certificate and key files, with their passphrase from --passphrase-file,
// XSOAR_CERT_PASSPHRASE, or a prompt on a TTY: never from argv, where every user on the host can
// read them in /proc. The prompt itself is the cli's (registered through ./prompt-hook.ts).
import { MAX_PASSPHRASE_BYTES, readInputFile } from '../pki/input-file.js';
import { askPassphrase } from './prompt-hook.js';
import { NeedsPassphraseError } from '../pki/entry.js';
import { parseBundle, readInputBytes } from '../pki/parse.js';
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
      // Bounded, and a pipe is fine (--passphrase-file <(pass show tenant)); /dev/zero is not.
      v = (
        await readInputFile(src.file, { maxBytes: MAX_PASSPHRASE_BYTES, what: 'a passphrase file', allowPipe: true })
      )
        .toString('utf8')
        .replace(/\r?\n$/, '');
      fromFile.set(src.file, v);
    }
    return v;
  }
  const env = process.env.XSOAR_CERT_PASSPHRASE;
  if (env !== undefined && env !== '') return env;
  const interactive = src.prompt ?? (Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY));
  if (!interactive) return undefined;
  return askPassphrase(forFile);
}

/** Read a file; if it turns out to be encrypted, obtain the passphrase and read it again. */
export async function readBundleWithPassphrase(file: string, src: PassphraseSource = {}): Promise<Bundle> {
  const data = await readInputBytes(file);
  try {
    return parseBundle(data, { source: file });
  } catch (err) {
    if (!(err instanceof NeedsPassphraseError)) throw err;
    const pass = await getPassphrase(src, file);
    if (pass === undefined) throw err;
    return parseBundle(data, { source: file, passphrase: pass });
  }
}
