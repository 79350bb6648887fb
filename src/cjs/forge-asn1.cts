// node-forge's ASN.1 reader alone, loaded with require() from CommonJS (see ./commander.cts):
// 5 ms, where an ESM import of the same file costs 16 ms.
const asn1: typeof import('node-forge').asn1 = require('node-forge/lib/asn1.js');
export = asn1;
