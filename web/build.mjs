// Bundles the chat page into dist/ (committed; backends/core embeds it, docs/chat-page.md says why):
//   dist/index.html  the page
//   dist/app.js      React, useChat and the page, one ES module
//   dist/app.css     the page's styles
// `node build.mjs --out DIR` writes elsewhere (the freshness test builds into a temp folder and
// compares). The output depends only on the sources and the pinned versions, so the same inputs
// give the same bytes.

import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

/** Builds the page into `outdir`; returns `{file: bytes}` for what it wrote. */
export async function buildPage(outdir) {
  fs.mkdirSync(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: 'src/main.jsx' },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox121', 'safari17'],
    jsx: 'automatic',
    minify: true,
    // React's production build: no development checks, a third of the size.
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'eof',
    charset: 'utf8',
    metafile: true,
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(root, 'src/index.html'), path.join(outdir, 'index.html'));
  const sizes = { 'index.html': fs.statSync(path.join(outdir, 'index.html')).size };
  for (const [file, info] of Object.entries(result.metafile.outputs)) sizes[path.basename(file)] = info.bytes;
  return sizes;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out');
  const outdir = at > 0 ? path.resolve(process.argv[at + 1]) : path.join(root, 'dist');
  const sizes = await buildPage(outdir);
  for (const [file, bytes] of Object.entries(sizes)) process.stdout.write(`${path.relative(root, path.join(outdir, file)) || file}: ${bytes} bytes\n`);
}
