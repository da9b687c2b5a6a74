#!/usr/bin/env node
// Self time of a sidecar's `.cpuprofile` by owner (docs/frames.md#where-the-sidecars-time-goes-before-and-after),
// seen through the bundle: the profile of `dist/server.mjs` names one file for every package, so
// the owner of each sample is read from the bundle's own region comments (`// node_modules/ai/...`),
// which esbuild writes in a readable build (`SIDECAR_MINIFY=0`). The owners are the ones
// sut-kit/node/profile-aisdk.mjs gives `aisdk-node`, so the two tables compare.
//
// CLI: node backends/sidecar/bench/profile-owners.mjs --bundle DIR/server.mjs PROFILE.cpuprofile
//        [--chunks N] [--top K]
// Stdout: one JSON object {"busy_ms", "busy_us_per_chunk" (with --chunks), "owners": [{name, ms,
// share}], "functions": [{name, owner, ms, share}]}, largest first.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { owner } from '../../../sut-kit/node/profile-aisdk.mjs';

/** Native functions the profile names for a socket write from a stream (libuv's path). */
const SOCKET_WRITE_FUNCTIONS = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String']);
/** Functions listed beside the owners: enough to see what is left within the largest ones. */
const DEFAULT_TOP = 25;

/** For each line of the bundle (0-based), the source path its region comment names. */
export function bundleRegions(text) {
  const regions = [];
  let current = '(bundle)';
  for (const line of text.split('\n')) {
    // esbuild's region comment: the path of the module the lines below it come from.
    const region = /^\/\/ ((?:node_modules|src|\.\.)\/\S+\.m?js)$/.exec(line);
    if (region) current = region[1].replace(/^(\.\.\/)+/, '');
    regions.push(current);
  }
  return regions;
}

/** Self time (µs) per owner and per function of `profile`, idle left out. */
export function attributeBundled(profile, bundleUrlSuffix, regions) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byOwner = new Map();
  const byFunction = new Map();
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    let source = url;
    if (url.endsWith(bundleUrlSuffix)) {
      const path = regions[lineNumber] ?? '(bundle)';
      // owner() knows the sidecar's own files by their path in the repository.
      source = path.startsWith('src/') ? `backends/sidecar/${path}` : path;
    }
    const name = SOCKET_WRITE_FUNCTIONS.has(functionName) ? 'socket writes' : owner(functionName, source);
    if (name === 'idle') return;
    const delta = profile.timeDeltas[i];
    byOwner.set(name, (byOwner.get(name) ?? 0) + delta);
    const key = `${functionName || '(anonymous)'} ${source.split('/').slice(-2).join('/')}`;
    const entry = byFunction.get(key) ?? { owner: name, us: 0 };
    entry.us += delta;
    byFunction.set(key, entry);
  });
  return { byOwner, byFunction };
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { bundle: { type: 'string' }, chunks: { type: 'string' }, top: { type: 'string' } },
  });
  if (!values.bundle || positionals.length !== 1) {
    process.stderr.write('usage: profile-owners.mjs --bundle DIR/server.mjs PROFILE.cpuprofile [--chunks N] [--top K]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
  const regions = bundleRegions(readFileSync(values.bundle, 'utf8'));
  const suffix = values.bundle.split('/').slice(-2).join('/');
  const { byOwner, byFunction } = attributeBundled(profile, suffix, regions);
  const busy = [...byOwner.values()].reduce((a, b) => a + b, 0);
  const share = (us) => Math.round((1000 * us) / busy) / 10;
  const ms = (us) => Math.round(us / 100) / 10;
  const chunks = Number(values.chunks ?? 0);
  const out = {
    busy_ms: ms(busy),
    ...(chunks > 0 ? { busy_us_per_chunk: Math.round((10 * busy) / chunks) / 10 } : {}),
    owners: [...byOwner].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: ms(us), share: share(us) })),
    functions: [...byFunction]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, Number(values.top ?? DEFAULT_TOP))
      .map(([name, { owner: o, us }]) => ({ name, owner: o, ms: ms(us), share: share(us) })),
  };
  process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
