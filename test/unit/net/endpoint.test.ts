// HOST[:PORT], one parser for every caller: --endpoint and --dns-rfc2136 (strict), a served-chain fetch (port
// optional, 443 by default) and probe arguments (a bare IPv6 address too).
import {
  formatEndpoint,
  parseEndpoint,
  parseHostPort,
  parseProbeTarget,
  splitEndpoint,
} from '../../../src/net/endpoint.js';
import { UsageError } from '../../../src/errors.js';

test('parseEndpoint: HOST:PORT with a port from 1 to 65535, IPv6 in brackets', () => {
  expect(parseEndpoint('xsoar.example.com:443')).toEqual({ host: 'xsoar.example.com', port: 443 });
  expect(parseEndpoint('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
  for (const bad of ['xsoar.example.com', 'h:0', 'h:65536', 'h:000443', '::1:443', '[g::1]:443', 'a b:443', '[::1]']) {
    expect(() => parseEndpoint(bad)).toThrow(UsageError);
  }
  expect(() => parseEndpoint('h:x')).toThrow('--endpoint "h:x": expected HOST:PORT with a port from 1 to 65535');
});

test('splitEndpoint: the port is optional; what is neither form is taken whole as the host', () => {
  expect(splitEndpoint('a.example')).toEqual({ host: 'a.example', port: 443 });
  expect(splitEndpoint('a.example:8443')).toEqual({ host: 'a.example', port: 8443 });
  expect(splitEndpoint('[::1]', 18501)).toEqual({ host: '::1', port: 18501 });
  expect(splitEndpoint('::1')).toEqual({ host: '::1', port: 443 });
});

test('parseProbeTarget: a bare IPv6 address has no port; anything else unparsed is a UsageError', () => {
  expect(parseProbeTarget('::1')).toEqual({ host: '::1', port: undefined });
  expect(parseProbeTarget('[::1]:443')).toEqual({ host: '::1', port: 443 });
  expect(parseProbeTarget('b.example')).toEqual({ host: 'b.example', port: undefined });
  expect(() => parseProbeTarget('a:b:c')).toThrow('"a:b:c" is not HOST or HOST:PORT');
});

test('formatEndpoint brackets an IPv6 address', () => {
  expect(formatEndpoint('::1', 443)).toBe('[::1]:443');
  expect(formatEndpoint('a.example', 443)).toBe('a.example:443');
});

test('parseHostPort: strict host and port, the default when there is no port', () => {
  expect(parseHostPort(' ns1.example.com '.trim(), 53)).toEqual({ host: 'ns1.example.com', port: 53 });
  expect(parseHostPort('[::1]:5353', 53)).toEqual({ host: '::1', port: 5353 });
  expect(parseHostPort('ns1.example.com')).toBeUndefined();
  expect(parseHostPort('ns1:0', 53)).toBeUndefined();
  expect(parseHostPort('ns1:99999', 53)).toBeUndefined();
});
