// commander is CommonJS. Loaded with require() from this CommonJS shim instead of an ESM import,
// Node skips lexing commander's source for export names: ~10 ms off every command (npm run bench).
import commander = require('commander');
export = commander;
