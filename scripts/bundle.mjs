#!/usr/bin/env node
// npm run bundle: one file, dist/xsoar-cert.mjs, that runs with plain `node` and no
// node_modules (air-gapped appliances have Node but no registry). Built from the tsc output;
// the command registry's `import(`./commands/${name}.js`)` is a glob esbuild follows, and
// every lazy import stays lazy inside the bundle (esbuild wraps them).
//
// Start-up: V8 must pre-parse all 1.5 MB of code in a file before running a line of it, which
// cost ~65 ms on `--version`. So the file is a small launcher that answers --version itself and
// otherwise compiles the bundle (CommonJS, brotli-packed in one base64 string literal: a string is
// scanned, not parsed) as one function. Real commands pay ~10 ms for the unpacking; an import from
// a data: URL was tried first and cost 100 ms more (URL handling of a 2 MB string). Still one file; the dependencies' licence notices stay in it as a comment.
import { build } from 'esbuild';
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import zlib, { brotliCompressSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(ROOT, 'dist', 'xsoar-cert.mjs');
const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const result = await build({
  entryPoints: [path.join(ROOT, 'dist', 'cli', 'main.js')],
  outfile,
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'external',
  // The bundle runs as the body of a function the launcher compiles: import.meta.url is the
  // launcher's own URL, and require() is the launcher's (for Node built-ins).
  define: { 'import.meta.url': '__xsoarCertUrl' },
  logLevel: 'warning',
});
const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
const legal = result.outputFiles.find((f) => f.path.endsWith('.LEGAL.txt'))?.text ?? '';
const launcher = `#!/usr/bin/env node
// xsoar-cert ${version}: one file, runs with plain node (>= 20.5). See the project README.
const argv = process.argv;
if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) process.stdout.write(${JSON.stringify(version + '\n')});
else {
  const { brotliDecompressSync } = await import('node:zlib');
  const { createRequire } = await import('node:module');
  const { runInThisContext } = await import('node:vm');
  const packed = ${JSON.stringify(brotliCompressSync(Buffer.from(code.text), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: code.text.length } }).toString('base64'))};
  const code = brotliDecompressSync(Buffer.from(packed, 'base64')).toString('utf8');
  const body = runInThisContext('(function (require, module, exports, __xsoarCertUrl) {' + code + '\\n})', { filename: new URL(import.meta.url).pathname + ' (bundle)' });
  const module = { exports: {} };
  body(createRequire(import.meta.url), module, module.exports, import.meta.url);
}
/*
 * Licence notices of the bundled dependencies:
${legal.replace(/\*\//g, '* /').replace(/^/gm, ' * ')}
 */
`;
writeFileSync(outfile, launcher);
chmodSync(outfile, 0o755);
console.log(`${path.relative(ROOT, outfile)}  ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
