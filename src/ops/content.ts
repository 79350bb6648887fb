// What every certificate source hands the transaction engine: the secret's data and the facts
// the plan and the messages need. Files given to install, a renew drop folder and a new
// self-signed certificate all end here.
import type { VerifiedMaterial } from '../pki/types.js';
import type { NewContent } from './txn/types.js';

export function contentFrom(m: VerifiedMaterial, label: string): NewContent {
  const data: Record<string, string> = {
    'tls.crt': Buffer.from(m.chainPem).toString('base64'),
    'tls.key': Buffer.from(m.keyPem).toString('base64'),
  };
  if (m.rootPem) data['ca.crt'] = Buffer.from(m.rootPem).toString('base64');
  return {
    data,
    fingerprint: m.leaf.sha256,
    notAfter: m.leaf.notAfter,
    names: [...m.leaf.dnsNames, ...m.leaf.ipAddresses].map((n) => n.toLowerCase()),
    label,
  };
}
