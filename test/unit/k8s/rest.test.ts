// The socket transport against a real HTTP server on a unix socket: an answer cut off after it
// began (the proxy died mid-stream) must reject, never leave the caller waiting on nothing.
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SocketApi, TransportError } from '../../../src/k8s/rest.js';

let server: http.Server;
const socket = path.join(mkdtempSync(path.join(tmpdir(), 'xsoar-cert-rest-')), 's.sock');
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/cut')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{}}\n{"items":[');
      setTimeout(() => req.socket.destroy(), 50);
      return;
    }
    if (req.url?.startsWith('/conflict')) {
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","reason":"Conflict","message":"the object has been modified"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"items":[]}');
  });
  await new Promise<void>((r) => server.listen(socket, r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('a whole answer resolves; one cut off after it began rejects (request and watch)', async () => {
  const api = new SocketApi(socket);
  try {
    expect(await api.request({ method: 'GET', path: '/ok', timeoutMs: 5000 })).toMatchObject({
      status: 200,
      json: { items: [] },
    });
    await expect(api.request({ method: 'GET', path: '/cut', timeoutMs: 5000 })).rejects.toBeInstanceOf(TransportError);
    const seen: string[] = [];
    const watched = api.watch({
      path: '/cut?watch=true',
      timeoutMs: 5000,
      onEvent: (e) => (seen.push(e.type), false),
    });
    await expect(watched).rejects.toBeInstanceOf(TransportError);
    expect(seen).toEqual(['ADDED']);
  } finally {
    api.close();
  }
});

test('a socket with nothing behind it rejects at once (the proxy is gone)', async () => {
  const api = new SocketApi(path.join(path.dirname(socket), 'gone.sock'));
  await expect(api.request({ method: 'GET', path: '/', timeoutMs: 5000 })).rejects.toMatchObject({ code: 'ENOENT' });
  api.close();
});

test('discard: a success is answered without its body; a failure keeps its Status for the message', async () => {
  const api = new SocketApi(socket);
  try {
    expect(await api.request({ method: 'DELETE', path: '/ok', timeoutMs: 5000, discard: true })).toEqual({
      status: 200,
      json: undefined,
      text: '',
    });
    expect(await api.request({ method: 'PUT', path: '/conflict', timeoutMs: 5000, discard: true })).toMatchObject({
      status: 409,
      json: { reason: 'Conflict', message: 'the object has been modified' },
    });
  } finally {
    api.close();
  }
});
