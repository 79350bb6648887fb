// Shared PKI types: the contract between parse/generate/chain/verify and the
// operations (install, renew) that consume a verified certificate.
import type { KeyObject, X509Certificate } from 'node:crypto';

/** One certificate found in an input, with where it came from. */
export interface CertEntry {
  cert: X509Certificate;
  der: Buffer;
  /** The file name as the user gave it (or '<stdin>', '<secret ns/name>'). */
  source: string;
  /** 0-based position of this certificate within its source. */
  index: number;
}

/** One private key found in an input. Never print `key` or its export. */
export interface KeyEntry {
  key: KeyObject;
  source: string;
  index: number;
  format: 'pkcs8' | 'pkcs8-encrypted' | 'pkcs1' | 'sec1' | 'pkcs12';
  /** The file held it encrypted (PKCS#8 or legacy Proc-Type PEM) and a passphrase opened it. */
  encrypted?: boolean;
}

/** Everything parsed from one or more inputs. */
export interface Bundle {
  certs: CertEntry[];
  keys: KeyEntry[];
}

export type KeyType = 'rsa' | 'rsa-pss' | 'ecdsa' | 'ed25519' | 'ed448' | 'other';

/** A printable description of one certificate (inspect, status, JSON output). */
export interface CertInfo {
  subject: string;
  issuer: string;
  /** Serial number, upper-case hex without separators. */
  serial: string;
  notBefore: string; // ISO 8601
  notAfter: string; // ISO 8601
  /** Whole days from `at` (default now) until notAfter; negative once expired. */
  daysLeft: number;
  dnsNames: string[];
  ipAddresses: string[];
  keyType: KeyType;
  keyBits?: number;
  curve?: string;
  signatureAlgorithm: string;
  /** SHA-256 fingerprint of the DER, upper-case hex with colons (as openssl prints it). */
  sha256: string;
  /** Extended key usages by name where known (serverAuth, clientAuth, …), else the OID. */
  eku: string[];
  isCA: boolean;
  pathLen?: number;
  keyUsage: string[];
  selfSigned: boolean;
  ski?: string;
  aki?: string;
  source?: string;
}

/** 'info': a fact the user should see that is neither a problem nor a check (e.g. a certificate left out). */
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip' | 'info';

/** One verify check. `message` is one line that names the file and the cert and says what to do. */
export interface Check {
  /** Stable id, e.g. 'key-match', 'chain.signature', 'chain.validity', 'chain.ca', 'chain.path-length',
   * 'chain.name-constraints', 'chain.trust', 'host', 'lint.rsa-size', 'lint.signature-hash',
   * 'lint.server-auth', 'lint.leaf-ca', 'lint.lifetime', 'lint.expiry-soon', 'lint.root-in-chain',
   * 'tls.1.2', 'tls.1.3'. */
  id: string;
  status: CheckStatus;
  message: string;
  file?: string;
  subject?: string;
  serial?: string;
}

export interface VerifyReport {
  /** True when no check failed (warnings allowed). */
  ok: boolean;
  checks: Check[];
  leaf?: CertInfo;
  /** The chain as built, leaf first, ending at the trust anchor when one was found. */
  chain: CertInfo[];
  failures: number;
  warnings: number;
}

/** What an install needs from a verified set of files. `keyPem` must never be logged or printed. */
export interface VerifiedMaterial {
  report: VerifyReport;
  /** Leaf + intermediates in order, PEM: what the secret's tls.crt holds. */
  chainPem: string;
  /** The trust anchor (root) PEM when known: the secret's ca.crt. */
  rootPem?: string;
  /** The matching private key as PKCS#8 PEM: the secret's tls.key. */
  keyPem: string;
  leaf: CertInfo;
}
