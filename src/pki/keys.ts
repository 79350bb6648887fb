// Keys for certificate and request generation: new ones from Node's crypto, or the caller's
// PEM, and their WebCrypto form for @peculiar/x509 (which signs through Node's WebCrypto).
import { createPrivateKey, createPublicKey, generateKeyPair, webcrypto, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const subtle = webcrypto.subtle;
const generateKeyPairAsync = promisify(generateKeyPair);

export type KeySpec =
  { type: 'rsa'; bits?: number } | { type: 'ecdsa'; curve?: 'P-256' | 'P-384' } | { keyPem: string };
export type SignatureHash = 'SHA-256' | 'SHA-384' | 'SHA-512' | 'SHA-1';

export async function newKey(spec: KeySpec | undefined): Promise<KeyObject> {
  if (spec && 'keyPem' in spec) return createPrivateKey(spec.keyPem);
  if (spec?.type === 'ecdsa') {
    const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: spec.curve ?? 'P-256' });
    return privateKey;
  }
  const bits = spec?.type === 'rsa' && spec.bits ? spec.bits : 2048;
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  return privateKey;
}

/** The WebCrypto algorithm for signing with / describing a key of this type. */
function algorithmFor(
  key: KeyObject,
  hash: SignatureHash,
): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash };
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve =
      curve === 'secp384r1' || curve === 'P-384'
        ? 'P-384'
        : curve === 'secp521r1' || curve === 'P-521'
          ? 'P-521'
          : 'P-256';
    return { name: 'ECDSA', namedCurve };
  }
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use RSA or ECDSA)`);
}

export async function toCryptoKeys(key: KeyObject, hash: SignatureHash): Promise<webcrypto.CryptoKeyPair> {
  const alg = algorithmFor(key, hash);
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, alg, true, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, alg, true, ['verify']);
  return { privateKey, publicKey } as webcrypto.CryptoKeyPair;
}

export function signingAlgorithm(key: KeyObject, hash: SignatureHash): webcrypto.Algorithm {
  return key.asymmetricKeyType === 'ec'
    ? ({ name: 'ECDSA', hash } as webcrypto.EcdsaParams)
    : ({ name: 'RSASSA-PKCS1-v1_5', hash } as webcrypto.RsaHashedImportParams);
}
