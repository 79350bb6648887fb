// Writing certificates and keys: keys 0600 from the first byte (O_EXCL + mode, so there is
// no moment when another user can read them), and never over an existing file without --force.
import { open, rename, unlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { UsageError, InputError } from '../errors.js';

export async function writeNew(file: string, data: string, opts: { mode: number; force?: boolean }): Promise<void> {
  if (opts.force) {
    // Write beside it, then rename: the old file stays intact until the new one is complete.
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    await writeExclusive(tmp, data, opts.mode);
    try {
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return;
  }
  await writeExclusive(file, data, opts.mode);
}

async function writeExclusive(file: string, data: string, mode: number): Promise<void> {
  let fh;
  try {
    fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new UsageError(
        `${file} already exists: not overwriting it`,
        'Pass --force to replace it, or choose another --out-dir.',
      );
    if (code === 'ENOENT')
      throw new InputError(`${path.dirname(file)}: no such folder`, {
        file,
        hint: 'Create it first, or pass another --out-dir.',
      });
    if (code === 'EACCES' || code === 'EPERM')
      throw new InputError(`${file}: permission denied`, { file, hint: 'Choose a folder you can write to.' });
    throw err;
  }
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed or widened what open() set
  } finally {
    await fh.close();
  }
}
