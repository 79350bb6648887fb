// Removes anything that looks like key material from text that may reach a terminal, a log, the
// audit log or JSON. A leaf module: kubectl, audit and the cli all use it.

/** Remove anything that looks like key material from text that may reach a terminal, log or JSON. */
export function redact(text: string): string {
  return text
    .replace(/-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(-----END \1-----|$)/g, '[REDACTED $1]')
    .replace(/("?tls\.key"?\s*[:=]\s*"?)[A-Za-z0-9+/=\r\n]{16,}/g, '$1[REDACTED]')
    .replace(/[A-Za-z0-9+/]{200,}={0,2}/g, (b64) => (isCertificatesOnly(b64) ? b64 : '[REDACTED base64]'));
}

/** A long base64 blob that decodes to PEM certificates and nothing else (a secret's tls.crt or ca.crt) is
 * public: --dry-run --json shows it. Anything else that long (a key, DER of unknown kind) stays redacted. */
function isCertificatesOnly(b64: string): boolean {
  const text = Buffer.from(b64, 'base64').toString('latin1');
  if (!text.startsWith('-----BEGIN CERTIFICATE-----') || /PRIVATE KEY/.test(text)) return false;
  const rest = text.replace(/-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*/g, '');
  return rest.length === 0;
}
