// A new self-signed certificate with the installed names (development tenants, renew
// --self-signed): one of the sources that hand the transaction engine the same NewContent.
import { X509Certificate } from 'node:crypto';
import { UsageError } from '../../errors.js';
import type { NewContent } from '../txn/types.js';
import type { CertificateSource } from './types.js';

export async function selfSignedContent(
  installed: X509Certificate,
  extraHosts: readonly string[],
  where: string,
): Promise<NewContent> {
  // The installed names, plus any --host the renewed certificate must also cover.
  const installedNames = (installed.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((s) => s.replace(/^DNS:|^IP Address:/, ''));
  const names = [...new Set([...installedNames, ...extraHosts])];
  if (names.length === 0) throw new UsageError(`the installed certificate in ${where} has no SANs to copy`);
  const { generateDevLeaf } = await import('../../pki/generate.js');
  const keyType = installed.publicKey.asymmetricKeyType === 'ec' ? 'ecdsa' : 'rsa';
  const leaf = await generateDevLeaf({ hosts: names, keyType });
  const leafCert = new X509Certificate(leaf.certPem);
  return {
    data: {
      'tls.crt': Buffer.from(leaf.certPem).toString('base64'),
      'tls.key': Buffer.from(leaf.keyPem).toString('base64'),
    },
    fingerprint: leafCert.fingerprint256,
    notAfter: new Date(leafCert.validTo).toISOString(),
    names: names.map((n) => n.toLowerCase()),
    label: 'a new self-signed certificate',
  };
}

/** renew --self-signed: a new certificate with the installed names plus `hosts`; nothing costly. */
export function selfSignedSource(hosts: readonly string[]): CertificateSource {
  return {
    costly: false,
    describe: () => 'self-signed',
    obtain: async (i) => ({ content: await selfSignedContent(i.leaf, hosts, i.where), from: 'self-signed' }),
  };
}
