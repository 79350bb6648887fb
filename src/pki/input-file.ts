// Every file the tool reads from the user goes through here: regular files only (a FIFO, a
// device or /dev/zero would block or never end), a documented size limit checked on the open
// handle before anything is read, and one-line errors that name the path and what to do.
// Opening with O_NONBLOCK means a FIFO with no writer cannot hang the open itself.
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** Certificate, key and bundle files are kilobytes; the whole Mozilla root store is ~220 KiB. */
export const MAX_CERT_FILE_BYTES = 1024 * 1024;
/** A passphrase file holds one line. */
export const MAX_PASSPHRASE_BYTES = 4096;

export interface ReadInputOptions {
  /** Refuse files larger than this (default MAX_CERT_FILE_BYTES). */
  maxBytes?: number;
  /** What the file is for, in messages ("certificate or key file", "passphrase file"). */
  what?: string;
  /** Also read a pipe (e.g. `--passphrase-file <(pass show x)`), still bounded. */
  allowPipe?: boolean;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const human = (n: number) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB` : `${Math.ceil(n / 1024)} KiB`;

/** Read `file` whole, within the limits above. Never follows into a device or waits on a pipe. */
export async function readInputFile(file: string, opts: ReadInputOptions = {}): Promise<Buffer> {
  const max = opts.maxBytes ?? MAX_CERT_FILE_BYTES;
  const what = opts.what ?? 'a certificate or key file';
  const fh = await openInput(file, what);
  try {
    const st = await fh.stat();
    const pipe = st.isFIFO();
    if (!st.isFile() && !(pipe && opts.allowPipe)) {
      throw new InputError(`${file}: is ${kindOf(st)}, not ${what}`, {
        file,
        hint: 'Pass a regular file (copy the data into one first).',
      });
    }
    if (st.isFile() && st.size > max) {
      throw new InputError(`${file}: is ${human(st.size)}, more than ${what} can be (limit ${human(max)})`, {
        file,
        hint: 'Check that this is the right file; split a large bundle into the chain you need.',
      });
    }
    // Read at most max + 1 bytes: a file that grew, or a pipe, cannot make us read more.
    const data = await readAtMost(fh, Math.min(max + 1, st.isFile() ? st.size + 1 : max + 1));
    if (pipe && data.length === 0)
      throw new InputError(`${file}: nothing came through this pipe`, {
        file,
        hint: 'Check the command that writes it, or pass a regular file.',
      });
    if (data.length > max)
      throw new InputError(`${file}: is more than ${human(max)}, more than ${what} can be`, {
        file,
        hint: 'Check that this is the right file.',
      });
    return data;
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN')
      throw new InputError(`${file}: nothing was written to this pipe`, { file, hint: 'Pass a regular file.' });
    throw new InputError(`${file}: cannot be read (${code ?? 'I/O error'})`, { file });
  } finally {
    await fh.close();
  }
}

/** Open read-only and non-blocking, with a one-line error for each way the open can fail. */
async function openInput(file: string, what: string): Promise<FileHandle> {
  try {
    return await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new InputError(`${file}: no such file`, {
        file,
        hint: 'Check the path (relative paths are from the current folder).',
      });
    if (code === 'EACCES' || code === 'EPERM')
      throw new InputError(`${file}: permission denied`, {
        file,
        hint: 'Make the file readable by this user (keys: chmod 600, owned by you).',
      });
    if (code === 'EISDIR')
      throw new InputError(`${file}: is a directory, not ${what}`, { file, hint: 'Name the file inside it.' });
    if (code === 'ENXIO')
      throw new InputError(`${file}: is a socket or a pipe with nothing behind it, not ${what}`, {
        file,
        hint: 'Pass a regular file.',
      });
    throw new InputError(`${file}: cannot be read (${code ?? 'I/O error'})`, { file });
  }
}

/** Up to `size` bytes, until end of file. */
async function readAtMost(fh: FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let n = 0;
  const deadline = Date.now() + 2000;
  while (n < buf.length) {
    let r: number;
    try {
      ({ bytesRead: r } = await fh.read(buf, n, buf.length - n, null));
    } catch (err) {
      // A pipe opened non-blocking reports EAGAIN until its writer writes: wait a little, boundedly.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 10));
        continue;
      }
      throw err;
    }
    if (r === 0) break;
    n += r;
  }
  return buf.subarray(0, n);
}
