// renew --acme URL: a certificate from an RFC 8555 CA. The names to order and the names kept are
// checked from what is installed (check), the CA's renewal window is asked (window, RFC 9773 ARI),
// and the order is placed only by obtain, which the engine calls after every check of the tenant.
// One order per distinct set of names in a fleet run.
import { NameChangeError, UsageError } from '../../errors.js';
import type { NewContent } from '../txn/types.js';
import type { AcmeSettings } from './acme.js';
import type { CertificateSource, Installed, Window } from './types.js';

export interface AcmeSourceOptions {
  /** Names the certificate must cover (--host); else the installed names. */
  hosts?: string[];
  allowNameChange?: boolean;
  /** Trust anchors to verify the issued chain (renew --ca). */
  ca?: string;
}

/** The names to order for `installed`: --host, or the names it covers; refused when one would be dropped. */
function namesToOrder(installed: Installed, o: AcmeSourceOptions): string[] {
  const names = [...new Set((o.hosts?.length ? o.hosts : installed.names).map((n) => n.toLowerCase()))];
  if (!names.length)
    throw new UsageError(`the installed certificate in ${installed.where} has no names to renew: pass --host NAME`);
  const dropped = installed.names.filter((n) => !names.includes(n));
  if (dropped.length && !o.allowNameChange) {
    throw new NameChangeError(
      `the ACME order for ${names.join(', ')} would not cover ${dropped.join(', ')}, ` +
        `which the installed certificate covers (${installed.where})`,
      dropped,
      'Add them with --host, or pass --allow-name-change if the names really change ' +
        '(e.g. the first move from the self-signed certificate). Nothing was ordered or changed.',
    );
  }
  return names;
}

export function acmeSource(s: AcmeSettings, o: AcmeSourceOptions): CertificateSource {
  const orders = new Map<string, Promise<NewContent>>();
  const windows = new Map<string, Window>();
  const from = `ACME ${new URL(s.directory).host}`;
  return {
    costly: true,
    describe: () => `an order at ${from}`,
    check: (installed) => void namesToOrder(installed, o),
    async window(installed, note) {
      const { renewalInfo } = await import('./acme.js');
      const ari = await renewalInfo(s, installed.leaf, note);
      const w = { start: ari.window?.start, certId: ari.certId };
      windows.set(installed.where, w);
      return w;
    },
    async obtain(installed, out) {
      const names = namesToOrder(installed, o);
      const key = `${names.slice().sort().join(',')}${s.reuseKey ? `|${installed.where}` : ''}`;
      // Set before any await: tenants obtained concurrently share the one order for their names.
      let order = orders.get(key);
      if (!order) {
        const req = {
          names,
          currentKeyPem: s.reuseKey ? installed.keyPem : undefined,
          trustCa: o.ca,
          replaces: windows.get(installed.where)?.certId,
        };
        order = import('./acme.js').then((m) => m.acmeContent(s, req, out));
        orders.set(key, order);
      }
      return { content: await order, from };
    },
  };
}
