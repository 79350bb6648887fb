// A loopback HTTPS proxy in front of pebble that adds `meta.profiles` to the directory (pebble 2.4
// has none) and records every newOrder payload. The Host header is passed through, so pebble builds
// its URLs (and checks each JWS "url") for the proxy's address: nothing else needs rewriting.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { mintChain } from './test-ca.js';

export interface ProfileProxy {
  directory: string;
  /** The CA of the proxy's own TLS certificate: pass it as --acme-ca. */
  tlsCa: string;
  /** The payload of every newOrder POST, decoded. */
  orders: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

const payloadOf = (body: string): Record<string, unknown> | undefined => {
  try {
    const jws = JSON.parse(body) as { payload?: string };
    return jws.payload ? (JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

export async function startProfileProxy(pebbleDirectory: string, pebbleCa: string, profiles: Record<string, string>): Promise<ProfileProxy> {
  const tls = await mintChain({ intermediates: 0, hosts: ['127.0.0.1', 'localhost'] });
  const upstream = new URL(pebbleDirectory);
  const orders: Array<Record<string, unknown>> = [];
  const server = https.createServer({ key: tls.leaf.keyPem, cert: tls.leaf.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && /order-plz|new-order/.test(req.url ?? '')) {
        const p = payloadOf(body.toString('utf8'));
        if (p) orders.push(p);
      }
      const out = https.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, ca: readFileSync(pebbleCa) },
        (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => {
            let data = Buffer.concat(parts);
            if (req.method === 'GET' && req.url === upstream.pathname) {
              const dir = JSON.parse(data.toString('utf8')) as { meta?: Record<string, unknown> };
              dir.meta = { ...dir.meta, profiles };
              data = Buffer.from(JSON.stringify(dir));
            }
            const headers = { ...up.headers, 'content-length': String(data.length) };
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(data);
          });
        },
      );
      out.on('error', () => res.writeHead(502).end());
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    directory: `https://127.0.0.1:${port}${upstream.pathname}`,
    tlsCa: tls.files.root,
    orders,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
