// node-forge ships no typings for its per-module entry points; this one is forge.asn1.
declare module 'node-forge/lib/asn1.js' {
  const asn1: unknown;
  export default asn1;
}
