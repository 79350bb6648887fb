// PKCS#7 / CMS certificate bundles (.p7b/.p7c, and Windows ADCS's SignedData armoured as
// "BEGIN CERTIFICATE"), opened with node-forge's lenient ASN.1 reader.
import { InputError } from '../errors.js';
import forgeAsn1Module from '../cjs/forge-asn1.cjs';
import { certFrom, derHeaderLength } from './entry.js';
import type { CertEntry } from './types.js';

/** DER of OID 1.2.840.113549.1.7.2 (PKCS#7 signedData), as it follows the ContentInfo SEQUENCE header. */
const SIGNED_DATA_OID = Buffer.from('06092a864886f70d010702', 'hex');

export function isPkcs7(der: Buffer): boolean {
  return (
    der[0] === 0x30 &&
    der.subarray(derHeaderLength(der), derHeaderLength(der) + SIGNED_DATA_OID.length).equals(SIGNED_DATA_OID)
  );
}

const CONTEXT = 0x80;
type Asn1Node = import('node-forge').asn1.Asn1;
const kids = (n: Asn1Node | undefined): Asn1Node[] => (n && Array.isArray(n.value) ? (n.value as Asn1Node[]) : []);
const SEQUENCE = 16;
const OID = 6;

/** A constructed node of this class and tag: its value is the array of children (X.690 §8.1.2.5). */
function isConstructed(n: Asn1Node | undefined, tagClass: number, type: number): n is Asn1Node {
  return Boolean(n) && n!.tagClass === tagClass && n!.type === type && n!.constructed && Array.isArray(n!.value);
}

/** The dotted OID of a primitive OBJECT IDENTIFIER node, or undefined for anything else (X.690 §8.19). */
function oidOf(n: Asn1Node | undefined, asn1: typeof forgeAsn1Module): string | undefined {
  if (!n || n.tagClass !== 0 || n.type !== OID || n.constructed || typeof n.value !== 'string') return undefined;
  try {
    return asn1.derToOid(n.value);
  } catch {
    return undefined;
  }
}

function damaged(source: string): InputError {
  return new InputError(`${source}: the PKCS#7 (.p7b) data is damaged`, {
    file: source,
    hint: 'Download the certificate chain from your CA again.',
  });
}

/**
 * The `[0] IMPLICIT certificates` node of a PKCS#7 SignedData (RFC 5652 §5.1: ContentInfo
 * { signedData, [0] SignedData { version, digestAlgorithms, encapContentInfo, [0] IMPLICIT
 * certificates, [1] crls, signerInfos } }), undefined when the SignedData carries none.
 * forge's lenient reader hands back whatever the bytes say: every node's shape is checked before
 * its value is used (a constructed "OID" is an array, not bytes).
 */
function certificatesNode(der: Buffer, source: string): Asn1Node | undefined {
  const asn1 = forgeAsn1Module;
  let root: Asn1Node;
  try {
    root = asn1.fromDer(der.toString('binary'), { strict: false, decodeBitStrings: false } as unknown as boolean);
  } catch {
    throw damaged(source);
  }
  if (!isConstructed(root, 0, SEQUENCE)) throw damaged(source);
  const [oid, wrapped] = kids(root);
  if (oidOf(oid, asn1) !== '1.2.840.113549.1.7.2') {
    throw new InputError(`${source}: a PKCS#7 message that is not a certificate bundle (not SignedData)`, {
      file: source,
      hint: 'Ask your CA for the chain as .p7b, .pem or .crt.',
    });
  }
  const signedData = kids(wrapped)[0];
  if (!isConstructed(wrapped, CONTEXT, 0) || !isConstructed(signedData, 0, SEQUENCE)) throw damaged(source);
  const certsNode = kids(signedData).find((n) => n.tagClass === CONTEXT && n.type === 0);
  if (certsNode && !isConstructed(certsNode, CONTEXT, 0)) throw damaged(source);
  return certsNode;
}

/**
 * The certificates of a PKCS#7 SignedData, numbered from `firstIndex`. The ".p7b" a CA portal or
 * Windows ADCS hands out is the "degenerate" form: certificates, no signers.
 */
export function pkcs7Certs(der: Buffer, source: string, firstIndex: number): CertEntry[] {
  const certs: CertEntry[] = [];
  for (const c of kids(certificatesNode(der, source))) {
    // Only plain certificates (SEQUENCE); attribute or other certificate choices are not X.509.
    if (!isConstructed(c, 0, SEQUENCE)) continue;
    let bytes: Buffer;
    try {
      bytes = Buffer.from(forgeAsn1Module.toDer(c).getBytes(), 'binary');
    } catch {
      throw damaged(source);
    }
    certs.push(certFrom(bytes, source, firstIndex + certs.length));
  }
  if (certs.length === 0)
    throw new InputError(`${source}: the PKCS#7 (.p7b) bundle holds no certificate`, {
      file: source,
      hint: 'Download the certificate chain from your CA again (with "include all certificates in the path").',
    });
  return certs;
}
