// Bundles the sidecar into self-contained ES modules under dist/ (no node_modules at run time):
//   dist/server.mjs  the sidecar the Rust servers start
//   dist/chat.mjs    the chat function the napi backend imports
// and prints each file's size, since the deployable's size is one of the measured costs.

import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');
// Minified, measured on server.mjs (esbuild 0.28, ai 6.0.325): 1.78 MB plain, 1.26 MB with
// whitespace and syntax minified, 0.95 MB fully minified with names kept, 0.92 MB without them
// (ai 6.0.326 with @ai-sdk/openai 3.0.141, the harness's versions, bring a second
// @ai-sdk/provider-utils: 1.03 MB). Start-up time was the same within noise (~120 ms to load
// and exit), so size decides; names are kept (+4%) so that error names and stack traces stay
// readable in logs. SIDECAR_MINIFY=0 builds a readable bundle for debugging.
const minify = process.env.SIDECAR_MINIFY !== '0';

// Built aside, then renamed into place file by file: a sidecar starting from dist/ while a build
// runs sees the old bundle or the new one, never a missing or half-written file.
const staging = fs.mkdtempSync(path.join(root, '.dist-'));
try {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { server: 'src/server.mjs', chat: 'src/chat.mjs' },
    outdir: staging,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify,
    keepNames: true,
    legalComments: 'none',
    // Some CommonJS dependencies call require() on Node built-ins; in an ES module that needs a
    // require of its own.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  });
  fs.mkdirSync(outdir, { recursive: true });
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    const name = path.basename(file);
    fs.renameSync(path.join(staging, name), path.join(outdir, name));
    process.stdout.write(`dist/${name}: ${info.bytes} bytes\n`);
  }
} finally {
  fs.rmSync(staging, { recursive: true, force: true });
}
