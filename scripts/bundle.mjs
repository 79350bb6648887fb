#!/usr/bin/env node
// npm run bundle: one file, dist/xsoar-cert.mjs, that runs with plain `node` and no
// node_modules (air-gapped appliances have Node but no registry). Built from the tsc output;
// the command registry's `import(`./commands/${name}.js`)` is a glob esbuild follows, and
// every lazy import stays lazy inside the bundle (esbuild wraps them), so start-up stays small.
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(ROOT, 'dist', 'xsoar-cert.mjs');
await build({
  entryPoints: [path.join(ROOT, 'dist', 'cli', 'main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  legalComments: 'eof', // the dependencies' licence notices stay inside the one file
  // CommonJS dependencies (node-forge, commander) call require() for Node built-ins.
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __xcCreateRequire } from 'node:module'; const require = __xcCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`${path.relative(ROOT, outfile)}  ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
