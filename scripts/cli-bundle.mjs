#!/usr/bin/env node
// Part of `npm run build`: the CLI as one CommonJS file, dist/cli.<hash>.cjs, which src/launch.ts
// compiles with V8's code cache (see there why), and dist/cli.bundle.json naming it by its SHA-256,
// which also names the cache. Built from tsc's output, so the modules and the bundle are one build.
// The dependencies are inside it: Node 20 before 20.19 cannot require() an ES module (chalk), and a
// vm Script has no loader for import(). Lazy imports stay lazy (esbuild wraps each module in an
// initialiser), so acme-client or nodemailer still load only when used. Minified: V8 scans the
// whole source on a run without a cache, and half the bytes is half the scan.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const result = await build({
  entryPoints: [path.join(DIST, 'cli', 'main.js')],
  outfile: path.join(DIST, 'cli.bundle.cjs'),
  write: false,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // import() of a Node built-in would stay import(), which a vm Script cannot run: require it.
  supported: { 'dynamic-import': false },
  minify: true,
  // The launcher runs the bundle as a function's body and passes import.meta.url in.
  define: { 'import.meta.url': '__xsoarCertUrl' },
  logLevel: 'warning',
});
// The launcher compiles the file as it is, one function expression: wrapping it there would build a
// second copy of 2.4 MB of source on every start.
const code = Buffer.concat([
  Buffer.from('(function (require, module, exports, __xsoarCertUrl) {'),
  result.outputFiles[0].contents,
  Buffer.from('\n})'),
]);
if (/(?<![.\w$])import\(["'`]/.test(code.toString('utf8')))
  throw new Error('the bundle still holds an import(), which the launcher cannot run: nothing was written');
const sha256 = createHash('sha256').update(code).digest('hex');
const name = `cli.${sha256.slice(0, 16)}.cjs`;
// Each file whole, then renamed into place: a launcher running meanwhile reads the old pair or the new.
const put = (file, data) => {
  const tmp = path.join(DIST, `.${file}.${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path.join(DIST, file));
};
put(name, code);
put('cli.bundle.json', JSON.stringify({ sha256, file: name }) + '\n');
for (const f of readdirSync(DIST)) if (/^cli\.[0-9a-f]{16}\.cjs$/.test(f) && f !== name) unlinkSync(path.join(DIST, f));
