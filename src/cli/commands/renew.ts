// `xsoar-cert renew`: unattended renewal for cron and systemd timers.
import type { Command } from 'commander';
import { collect, helpAfter } from '../help.js';
import { addConfirmFlag, addFleetFlags, addTargetFlags, SETTINGS_HELP, type TargetFlags } from '../target-flags.js';
import { ACME_OPTIONS } from '../../ops/sources/acme-options.js';
import type { NotifyFlags } from '../../ops/notify-settings.js';
import { addFileFlags, FILES_HELP } from '../file-flags.js';
import type { FileTargetFlags } from '../../ops/targets/files/presets.js';

export interface RenewFlags extends TargetFlags, NotifyFlags, FileTargetFlags {
  before?: string;
  beforePercent?: string;
  from?: string;
  selfSigned?: boolean;
  ca?: string;
  chain: string[];
  host: string[];
  allowNameChange?: boolean;
  passphraseFile?: string;
  randomDelay?: string;
  printCron?: boolean;
  printSystemd?: boolean;
  logFile?: string;
  timeout: string;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
  /** The ACME flags (ops/sources/acme-options.ts), by commander's property names. */
  [acmeFlag: string]: unknown;
}

export function register(program: Command): void {
  const cmd = program
    .command('renew')
    .description(
      'renew the installed certificate when it is due (for cron): from an ACME CA, a drop folder, or self-signed',
    )
    .option('--before <days>', 'renew when it expires within this many days')
    .option('--before-percent <p>', 'renew in the last P% of its lifetime (default 33, like cert-manager)')
    .option(
      '--from <dir>',
      'take the newest valid certificate + key dropped in this folder (any file names; split files, .p7b, .pfx ' +
        'and certbot live/NAME folders are assembled)',
    )
    .option('--self-signed', 'generate a new self-signed certificate with the same names (development)');
  for (const o of ACME_OPTIONS) cmd.option(o.flag, o.help);
  cmd
    .option('--ca <file>', 'the root CA the new certificate must chain to')
    .option('--chain <file>', 'intermediate certificates, when the drop folder lacks them (repeatable)', collect, [])
    .option('--host <name|ip>', 'a name or IP the renewed certificate must cover (repeatable)', collect, [])
    .option('--allow-name-change', 'allow a certificate that drops names the installed one covers')
    .option('--passphrase-file <file>', 'key passphrase (or XSOAR_CERT_PASSPHRASE)')
    .option(
      '--random-delay <seconds>',
      'sleep a random time up to this before starting (spreads a fleet, like certbot)',
    )
    .option('--print-cron', 'print a crontab line for this renewal and exit')
    .option('--print-systemd', 'print a systemd service + timer for this renewal and exit')
    .option('--log-file <file>', 'where the cron/systemd entry logs (default: <state dir>/renew.log)')
    .option(
      '--metrics-file <file>',
      "write the tenants' metrics here after the run (node_exporter textfile collector)",
    );
  addNotifyFlags(cmd);
  addRenewFileFlags(addConfirmFlag(addFleetFlags(addTargetFlags(cmd, true))))
    .option('--timeout <seconds>', 'how long to wait for the rollout', '120')
    .option('--force', 'renew even when not due')
    .option('--dry-run', 'decide and show the plan; change nothing')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print only the result line')
    .addHelpText(
      'after',
      SETTINGS_HELP +
        FILES_HELP +
        helpAfter(...EXAMPLES) +
        '\n  renew exits 0 both when it renewed and when nothing was due (it says which).\n',
    )
    .action(async (flags: RenewFlags) => {
      const { runRenewCommand } = await import('./renew-run.js');
      await runRenewCommand(flags);
    });
}

const EXAMPLES = [
  'xsoar-cert renew --from /srv/certs/drop -n xsoar --endpoint xsoar.example.com:443',
  'xsoar-cert renew --from /srv/certs/drop --preset xsoar6 --endpoint 127.0.0.1:443',
  'xsoar-cert renew --acme https://ca.example.com/acme/directory --http-port 80 --files /etc/nginx/tls/t.pem,' +
    '/etc/nginx/tls/t.key --restart-cmd "systemctl reload nginx" --endpoint 127.0.0.1:443',
  'xsoar-cert renew --from /etc/letsencrypt/live/xsoar.example.com --host xsoar.example.com',
  'xsoar-cert renew --acme https://acme-v02.api.letsencrypt.org/directory --acme-email admin@example.com --acme-agree-tos --dns-rfc2136 ns1.example.com --dns-tsig-key /etc/xsoar-cert/acme.key',
  'xsoar-cert renew --acme https://ca.example.com/acme/directory --dns-hook /usr/local/bin/dns-hook --force',
  'xsoar-cert renew --self-signed --before 30',
  'xsoar-cert renew --from /srv/certs/drop --print-cron >> /etc/cron.d/xsoar-cert',
];

/** renew --files: the files target's flags (--domain aside: --preset xsoar8 is install's check). */
function addRenewFileFlags(cmd: Command): Command {
  return addFileFlags(cmd, false)
    .option('--owner <user:group>', 'with --files: the owner of the written files (default: as they are)')
    .option('--mode <cert,key>', 'with --files: octal modes, e.g. 0640,0600 (default: as they are)');
}

/** Notifications (README "Notifications"; the settings file's "notify" object holds the same keys, and SMTP's). */
function addNotifyFlags(cmd: Command): Command {
  return cmd
    .option(
      '--notify-on <events>',
      'notify on failure, change, expiring (repeatable or a comma list; default failure,expiring)',
      collect,
      [],
    )
    .option('--notify-cmd <cmd>', 'run this shell command with the JSON notification on stdin')
    .option('--notify-url <url>', 'POST the notification to this https webhook (http only to this host)')
    .option('--notify-format <f>', 'the webhook body: json, slack or teams (default json)')
    .option('--notify-ca <file>', "the CA that signed the webhook's (or the SMTP server's) certificate")
    .option(
      '--notify-mail <addr>',
      'mail the notification to this address (SMTP from the settings file; default localhost:25)',
    );
}
