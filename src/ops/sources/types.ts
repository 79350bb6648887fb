// Where a renewed certificate comes from: a drop folder, a new self-signed certificate, or an ACME
// CA. `renew` decides with a pure plan (renew-policy.ts, from the installed certificate and the
// source's window), and the source's network work (an ACME order) happens after it, and only for
// tenants the engine has checked (txn/engine.ts). cert-manager's issuer interface is the model.
import type { X509Certificate } from 'node:crypto';
import type { Reporter } from '../reporter.js';
import type { NewContent } from '../txn/types.js';
import type { FolderFile } from './drop-folder.js';

/** The certificate installed in one tenant, as renew read it. */
export interface Installed {
  /** "namespace/secret", for messages. */
  where: string;
  leaf: X509Certificate;
  /** Its DNS names and IP addresses, lower-case. */
  names: string[];
  /** The installed key (PKCS#8 PEM, memory only), for --reuse-key. */
  keyPem?: string;
}

export interface Obtained {
  content: NewContent;
  /** Where it came from, for the result line ("ACME host", "self-signed", a file). */
  from: string;
  /** A drop folder: what became of each file. */
  files?: FolderFile[];
  /** The pending request (csr) the certificate completes. */
  requestId?: number;
}

/** The CA's suggested renewal window (RFC 9773 ARI) and the identifier of the certificate replaced. */
export interface Window {
  start?: Date;
  certId?: string;
}

export interface CertificateSource {
  /** An order at a CA: obtained only after every check, never in a dry run. */
  readonly costly: boolean;
  describe(): string;
  /** Checks that need only what is installed (the names to order, no name dropped); throws to refuse. */
  check?(installed: Installed): void;
  /** The source's own window for this certificate; a failure is "no window" with a note. */
  window?(installed: Installed, note: (why: string) => void): Promise<Window>;
  obtain(installed: Installed, out: Reporter): Promise<Obtained>;
}

/** The names a certificate covers (SAN DNS and IP entries), lower-case. */
export function namesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter(Boolean)
    .map((x) => x.replace(/^DNS:|^IP Address:/, '').toLowerCase());
}
