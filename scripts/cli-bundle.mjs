#!/usr/bin/env node
// Part of `npm run build`: the CLI as one CommonJS file, dist/cli.bundle.cjs, which
// src/launch.ts compiles with V8's code cache (see there why), and dist/cli.bundle.json with its
// hash, which names the cache. Built from tsc's output, so the modules and the bundle are one build.
// The dependencies are inside it: Node 20 before 20.19 cannot require() an ES module (chalk), and a
// vm Script has no loader for import(). Lazy imports stay lazy (esbuild wraps each module in an
// initialiser), so acme-client or nodemailer still load only when used. Minified: V8 scans the
// whole source on a run without a cache, and half the bytes is half the scan.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(ROOT, 'dist', 'cli.bundle.cjs');
await build({
  entryPoints: [path.join(ROOT, 'dist', 'cli', 'main.js')],
  outfile,
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
const code = readFileSync(outfile);
if (/(?<![.\w$])import\(["'`]/.test(code.toString('utf8')))
  throw new Error(`${outfile}: an import() is left, which the launcher cannot run`);
const sha256 = createHash('sha256').update(code).digest('hex');
writeFileSync(path.join(ROOT, 'dist', 'cli.bundle.json'), JSON.stringify({ sha256 }) + '\n');
