// Bundles the sidecar into self-contained ES modules under dist/ (no node_modules at run time):
//   dist/server.mjs  the sidecar the Rust servers start
//   dist/chat.mjs    the chat function the napi backend imports
// and prints each file's size, since the deployable's size is one of the measured costs.
//
// A stack with an AI SDK of its own (runtimes/node20-ai6: ai@6) builds the same sources against
// its packages: `--sdk-from DIR` resolves the SDK's packages from DIR/node_modules, `--outdir`
// puts the bundles elsewhere, and `--with-aisdk-node` adds the harness's aisdk-node reference
// (docs/runtimes.md#stacks). One chat code path serves both SDK majors.

import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    'sdk-from': { type: 'string' },
    outdir: { type: 'string' },
    'with-aisdk-node': { type: 'boolean', default: false },
  },
});
const outdir = path.resolve(flags.outdir ?? path.join(root, 'dist'));
const sdkFrom = flags['sdk-from'] && path.resolve(flags['sdk-from']);
const entryPoints = { server: 'src/server.mjs', chat: 'src/chat.mjs' };
if (flags['with-aisdk-node']) entryPoints['aisdk-node'] = '../../sut-kit/node/aisdk-node.mjs';
// Minified, measured on server.mjs (esbuild 0.28, ai 6.0.325): 1.78 MB plain, 1.26 MB with
// whitespace and syntax minified, 0.95 MB fully minified with names kept, 0.92 MB without them
// (ai 6.0.326 with @ai-sdk/openai 3.0.141, the harness's versions, bring a second
// @ai-sdk/provider-utils: 1.03 MB). Start-up time was the same within noise (~120 ms to load
// and exit), so size decides; names are kept (+4%) so that error names and stack traces stay
// readable in logs. SIDECAR_MINIFY=0 builds a readable bundle for debugging.
const minify = process.env.SIDECAR_MINIFY !== '0';

// Built aside, then renamed into place file by file: a sidecar starting from dist/ while a build
// runs sees the old bundle or the new one, never a missing or half-written file.
fs.mkdirSync(outdir, { recursive: true });
const staging = fs.mkdtempSync(path.join(path.dirname(outdir), '.dist-'));
try {
  const result = await build({
    absWorkingDir: root,
    entryPoints,
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
    plugins: sdkFrom ? [sdkPackagesFrom(sdkFrom)] : [],
    // src/sdk.mjs looks up exports only ai@7 has (toUIMessageStream, the single-consumer
    // streamText); with ai@6 they are undefined on purpose.
    logOverride: sdkFrom ? { 'import-is-undefined': 'silent' } : {},
  });
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    const name = path.basename(file);
    fs.renameSync(path.join(staging, name), path.join(outdir, name));
    process.stdout.write(`${path.relative(process.cwd(), path.join(outdir, name))}: ${info.bytes} bytes\n`);
  }
} finally {
  fs.rmSync(staging, { recursive: true, force: true });
}

/** The AI SDK's packages (and zod) as `dir` pins them, for every importer outside node_modules. */
function sdkPackagesFrom(dir) {
  return {
    name: 'sdk-packages-from',
    setup(build) {
      build.onResolve({ filter: /^(ai|@ai-sdk\/[^/]+|zod)(\/.*)?$/ }, (args) => {
        if (args.pluginData?.fromSdk || args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        return build.resolve(args.path, { kind: args.kind, resolveDir: dir, pluginData: { fromSdk: true } });
      });
    },
  };
}
