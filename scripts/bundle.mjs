#!/usr/bin/env node
// npm run bundle: one file, dist/xsoar-cert.mjs, that runs with plain `node` and no
// node_modules (air-gapped appliances have Node but no registry). Built from the tsc output;
// the command registry's `import(`./commands/${name}.js`)` is a glob esbuild follows, and
// every lazy import stays lazy inside the bundle (esbuild wraps them).
//
// Start-up: V8 must pre-parse all 1.5 MB of code in a file before running a line of it, which
// cost ~65 ms on `--version`. So the file is a small launcher that answers --version itself and
// otherwise imports the bundle from a data: URL made from one string literal (brotli, base64: a
// string is scanned, not parsed, and 400 KB scan faster than 2 MB). Still one file; the dependencies' licence notices stay in it as a comment.
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
  format: 'esm',
  minify: true,
  legalComments: 'external',
  // Inside a data: URL import.meta.url is that URL: the launcher's own file URL is used instead,
  // for createRequire (CommonJS dependencies such as node-forge and commander call require()).
  define: { 'import.meta.url': 'globalThis.__xsoarCertUrl' },
  banner: { js: "import { createRequire as __xcCreateRequire } from 'node:module'; const require = __xcCreateRequire(globalThis.__xsoarCertUrl);" },
  logLevel: 'warning',
});
const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
const legal = result.outputFiles.find((f) => f.path.endsWith('.LEGAL.txt'))?.text ?? '';
const launcher = `#!/usr/bin/env node
// xsoar-cert ${version}: one file, runs with plain node (>= 20.5). See the project README.
const argv = process.argv;
if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) process.stdout.write(${JSON.stringify(version + '\n')});
else {
  globalThis.__xsoarCertUrl = import.meta.url;
  const { brotliDecompressSync } = await import('node:zlib');
  const packed = ${JSON.stringify(brotliCompressSync(Buffer.from(code.text), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: code.text.length } }).toString('base64'))};
  await import('data:text/javascript;base64,' + brotliDecompressSync(Buffer.from(packed, 'base64')).toString('base64'));
}
/*
 * Licence notices of the bundled dependencies:
${legal.replace(/\*\//g, '* /').replace(/^/gm, ' * ')}
 */
`;
writeFileSync(outfile, launcher);
chmodSync(outfile, 0o755);
console.log(`${path.relative(ROOT, outfile)}  ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
