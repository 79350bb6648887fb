// Human rendering of a verify report: one line per check, failures first-class.
import type { Output } from './output.js';
import { ce } from './output.js';
import type { VerifyReport } from '../pki/types.js';
import { printable as p } from '../printable.js';

export function printChecks(out: Output, report: VerifyReport): void {
  const leaf = report.leaf;
  if (leaf) {
    // Subjects and names are the certificate's own text: shown escaped, colour added after.
    out.info(`${ce.bold(p(leaf.subject))}  (issuer ${p(leaf.issuer)})`);
    const names = p([...leaf.dnsNames, ...leaf.ipAddresses].join(', ')) || '(none)';
    const key = `${leaf.keyType}${leaf.keyBits ? ' ' + leaf.keyBits : ''}`;
    out.info(`  names: ${names}   expires ${leaf.notAfter} (${leaf.daysLeft} days)   ${key}`);
    out.info(`  sha256 ${leaf.sha256}`);
  }
  for (const c of report.checks) {
    const message = p(c.message);
    if (c.status === 'pass') out.ok(message);
    else if (c.status === 'skip') out.info(ce.dim('- ' + message));
    else if (c.status === 'info') out.info('· ' + message);
    else if (c.status === 'warn') out.warn(message);
    else out.fail(message);
  }
  if (report.ok)
    out.result(
      `OK: fit to serve${report.warnings ? ` (${report.warnings} warning${report.warnings > 1 ? 's' : ''})` : ''}`,
    );
}
