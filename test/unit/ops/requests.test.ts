// --from-installed: one request per distinct set of names (and key), each naming its targets.
import { basisFromInstalled } from '../../../src/ops/requests.js';
import { issueCertificate } from '../../../src/pki/generate.js';

const secret = (pem: string) => ({ data: { 'tls.crt': Buffer.from(pem).toString('base64') } });

test('targets with the same installed names share a request; the CN leads; key type and size are the installed ones', async () => {
  const a = await issueCertificate({
    subject: 'b.example.com',
    dnsNames: ['a.example.com', 'b.example.com'],
    ipAddresses: ['10.0.0.5'],
    key: { type: 'ecdsa', curve: 'P-384' },
  });
  const same = await issueCertificate({
    subject: 'b.example.com',
    dnsNames: ['b.example.com', 'a.example.com'],
    ipAddresses: ['10.0.0.5'],
    key: { type: 'ecdsa', curve: 'P-384' },
  });
  const other = await issueCertificate({
    subject: 'c.example.com',
    dnsNames: ['c.example.com'],
    key: { type: 'rsa', bits: 3072 },
  });
  const by: Record<string, string> = {
    't1/xsoar-tls': a.certPem,
    't2/xsoar-tls': same.certPem,
    't3/xsoar-tls': other.certPem,
  };
  const bases = await basisFromInstalled(
    Object.keys(by).map((k) => ({ namespace: k.split('/')[0]!, secret: 'xsoar-tls' })),
    async (t) => secret(by[`${t.namespace}/${t.secret}`]!),
  );
  expect(bases).toEqual([
    {
      names: ['b.example.com', 'a.example.com', '10.0.0.5'],
      keyType: 'ecdsa',
      curve: 'P-384',
      bits: undefined,
      targets: ['t1/xsoar-tls', 't2/xsoar-tls'],
    },
    { names: ['c.example.com'], keyType: 'rsa', bits: 3072, curve: undefined, targets: ['t3/xsoar-tls'] },
  ]);
  await expect(basisFromInstalled([{ namespace: 'x', secret: 's' }], async () => ({ data: {} }))).rejects.toThrow(
    /holds no certificate in tls\.crt/,
  );
});
