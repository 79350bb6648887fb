// Human rendering of a verify report: one line per check, failures first-class.
import type { Output } from './output.js';
import { ce } from './output.js';
import type { VerifyReport } from '../pki/types.js';

export function printChecks(out: Output, report: VerifyReport): void {
  const leaf = report.leaf;
  if (leaf) {
    out.info(`${ce.bold(leaf.subject)}  (issuer ${leaf.issuer})`);
    out.info(`  names: ${[...leaf.dnsNames, ...leaf.ipAddresses].join(', ') || '(none)'}   expires ${leaf.notAfter} (${leaf.daysLeft} days)   ${leaf.keyType}${leaf.keyBits ? ' ' + leaf.keyBits : ''}`);
    out.info(`  sha256 ${leaf.sha256}`);
  }
  for (const c of report.checks) {
    if (c.status === 'pass') out.ok(c.message);
    else if (c.status === 'skip') out.info(ce.dim('- ' + c.message));
    else if (c.status === 'info') out.info('· ' + c.message);
    else if (c.status === 'warn') out.warn(c.message);
    else out.fail(c.message);
  }
  if (report.ok) out.result(`OK: fit to serve${report.warnings ? ` (${report.warnings} warning${report.warnings > 1 ? 's' : ''})` : ''}`);
}
