// Flags of the PEM-files target (install, rollback, status): --files and its owner, modes and
// restart command, or a source system's --preset; and the three commands' file variants, which
// map the flags to options (ops/targets/files/run.ts) and render the outcome.
import type { Command } from 'commander';
import type { Output } from './output.js';
import type { FileTargetFlags } from '../ops/targets/files/presets.js';
import type { FilesStatus } from '../ops/targets/files/run.js';

export const FILES_HELP = `
CERTIFICATE FILES (instead of a Kubernetes secret)
  --files CERT,KEY (or one combined PEM, HAProxy style) [--owner USER:GROUP] [--mode 0640,0600]
  [--restart-cmd CMD] [--endpoint HOST:PORT]; --preset xsoar6 = --files /usr/local/demisto/cert.pem,
  /usr/local/demisto/cert.key (or /etc/demisto.conf's Security.CertFile/KeyFile) --owner demisto:demisto
  --mode 0640,0600 --restart-cmd 'systemctl restart demisto', the CA appended to cert.pem.
`;

export function addFileFlags(cmd: Command, write: boolean): Command {
  cmd
    .option('--files <cert,key>', 'certificate files on this host instead of a secret: CERT,KEY or one combined PEM')
    .option('--preset <name>', 'a source system: xsoar6 (its files), xsoar8 (with --domain: the three tenant names)')
    .option('--restart-cmd <cmd>', 'with --files: the command that makes the service read them (run by /bin/sh)');
  if (write)
    cmd
      .option('--owner <user:group>', 'with --files: the owner of the written files (default: as they are)')
      .option('--mode <cert,key>', 'with --files: octal modes, e.g. 0640,0600 (default: as they are)')
      .option('--domain <domain>', 'with --preset xsoar8: xsoar., api-xsoar. and ext-xsoar. + DOMAIN must be covered');
  return cmd;
}

/** The file target the flags name (usage errors thrown), or undefined for the Kubernetes secret. */
export async function fileTargetOf(flags: FileTargetFlags) {
  const { fileTarget } = await import('../ops/targets/files/presets.js');
  return fileTarget(flags);
}

export function showFilesStatus(s: FilesStatus, out: Output): void {
  if (out.json) return out.emit({ ok: s.agree !== false, ...s });
  for (const f of s.files) out.result(`file:      ${f.path} (uid ${f.uid}, gid ${f.gid}, mode ${f.mode})`);
  const i = s.installed;
  out.result(i ? `installed: ${i.fingerprint}, expires ${i.notAfter}, names ${i.names.join(', ')}` : 'installed: none');
  if (s.served)
    out.result(
      `served:    ${s.served.endpoint}: ${s.served.fingerprint ?? `no handshake (${s.served.error})`}` +
        (s.agree === undefined ? '' : s.agree ? ' (agrees)' : ' (DIFFERS from the files)'),
    );
  out.result(`restart:   ${s.restartCmd ?? '(none recorded)'}`);
  out.result(s.previous.length ? 'previous:' : 'previous:  none');
  for (const b of s.previous) out.result(`  ${b.name}  ${b.fingerprint ?? '(no certificate)'}  kept ${b.savedAt}`);
  if (s.interrupted) out.result(`note:      ${s.interrupted}`);
}
