#!/usr/bin/env node
// Where the AI SDK's time per chunk goes (docs/bench.md#where-the-ai-sdks-time-goes): starts the
// mock provider and `aisdk-node` (the sidecar's own chat code in one plain Node process) under
// `node --cpu-prof`, plays sequential `text` conversations through it, then sums the profile's
// self time by what owns the code: the socket writes, Node's Web Streams, the AI SDK's packages,
// GC, our sidecar's files. A diagnosis, not a benchmark: the bench stage measures the latency.
//
// CLI: node sut-kit/node/profile-aisdk.mjs [--chats 60] [--chunks 200] [--gap-ms 2] [--keep DIR]
//        [--sdk-from runtimes/<stack>]
//   needs target/release/mock-provider (or MOCK_PROVIDER_BIN) and backends/sidecar installed.
//   `--sdk-from` profiles the same sources on a comparison stack's packages (e.g.
//   runtimes/node20-ai6, after `npm ci` there; run the script with that stack's node): the
//   sources are copied into a temporary tree that resolves `ai` from the stack, so the
//   profile still names each package (the stack's own bundles would not).
// Stdout: one JSON object {"node", "ai", "chats", "chunks", "busy_ms", "busy_us_per_chunk",
// "groups": [{name, ms, share}]}, groups largest first; the profile is kept in --keep DIR.

import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { isMain, runMain, UsageError, writeLine } from './lib/cli.mjs';
import { startMockProvider } from './lib/mock-process.mjs';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const USAGE = 'usage: node profile-aisdk.mjs [--chats N] [--chunks N] [--gap-ms N] [--keep DIR] [--sdk-from DIR]\n';
/** What aisdk-node runs from: its script, the sidecar's chat code and the wire constants. */
const SOURCES = ['sut-kit/node', 'backends/sidecar/src', 'contract/js'];
/** Conversations played before profiling counts: module loading and JIT warm-up. */
const WARMUP_CHATS = 3;

/** Who owns a profile node's code, by its function name and script URL. */
export function owner(functionName, url) {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8 and native code';
  if (functionName === 'writev' || url.includes('stream_base')) return 'socket writes';
  for (const [needle, name] of [
    ['node_modules/ai/', 'AI SDK: ai'],
    ['node_modules/@ai-sdk/provider-utils', 'AI SDK: provider-utils'],
    ['node_modules/@ai-sdk/openai', 'AI SDK: openai provider'],
    ['node_modules/eventsource-parser', 'AI SDK: eventsource-parser'],
    ['node_modules/zod', 'AI SDK: zod validation'],
    ['webstreams', 'Node Web Streams'],
    ['undici', 'Node fetch (undici)'],
    ['backends/sidecar/src', 'ours: the sidecar code'],
    ['sut-kit/node', 'ours: aisdk-node'],
  ]) {
    if (url.includes(needle)) return name;
  }
  if (url.includes('node_modules')) return 'other packages';
  if (url.includes('esm') || url.includes('modules/')) return 'module loading';
  return 'Node runtime, other';
}

/** Self time per owner (µs) of a `.cpuprofile`, idle left out. */
export function attribute(profile) {
  const nodes = new Map(profile.nodes.map(n => [n.id, n]));
  const byOwner = new Map();
  profile.samples.forEach((id, i) => {
    const { functionName, url } = nodes.get(id).callFrame;
    const name = owner(functionName, url);
    byOwner.set(name, (byOwner.get(name) ?? 0) + profile.timeDeltas[i]);
  });
  byOwner.delete('idle');
  return byOwner;
}

/**
 * A copy of the sources that resolves its packages from `sdkFrom`'s node_modules (a stack under
 * runtimes/), so the same code runs on that stack's `ai` with package paths intact.
 */
export function treeWithSdk(sdkFrom) {
  const modules = resolve(sdkFrom, 'node_modules');
  if (!existsSync(join(modules, 'ai', 'package.json'))) {
    throw new UsageError(`--sdk-from ${sdkFrom}: no ai package in ${modules}; run npm ci --prefix ${sdkFrom} first`);
  }
  const root = mkdtempSync(join(tmpdir(), 'aisdk-profile-tree-'));
  for (const rel of SOURCES) {
    cpSync(join(REPO_ROOT, rel), join(root, rel), { recursive: true, filter: src => !src.includes('node_modules') });
  }
  // aisdk-node's own helpers import `ai` too (tools, error classes): from the same stack.
  for (const rel of ['backends/sidecar', 'sut-kit/node']) symlinkSync(modules, join(root, rel, 'node_modules'), 'dir');
  return root;
}

/** The `ai` version the sidecar's code resolves from `root`. */
function aiVersion(root) {
  return JSON.parse(readFileSync(join(root, 'backends/sidecar/node_modules/ai/package.json'), 'utf8')).version;
}

async function startAisdkNode(root, providerUrl, profileDir) {
  const child = spawn(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', profileDir, join(root, 'sut-kit/node/aisdk-node.mjs'), '--provider-url', providerUrl],
    { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, OPENAI_API_KEY: 'sk-profile' } },
  );
  const [line] = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then(r => [r.value]);
  if (!line) throw new Error('aisdk-node exited before its ready line: is backends/sidecar installed (npm ci --prefix backends/sidecar)?');
  const exited = new Promise(resolve => child.once('exit', resolve));
  return { url: JSON.parse(line).url, stop: () => (child.kill('SIGINT'), exited) };
}

async function play(url, chats, directive) {
  let chunks = 0;
  for (let i = 0; i < chats; i++) {
    const body = { messages: [{ id: `m${i}`, role: 'user', parts: [{ type: 'text', text: `[[scenario:text ${directive} tag=p${i}]]` }] }] };
    const res = await fetch(`${url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`aisdk-node answered ${res.status}: ${text.slice(0, 200)}`);
    chunks += text.split('"text-delta"').length - 1;
  }
  return chunks;
}

async function main() {
  const { values } = parseArgs({
    options: {
      chats: { type: 'string', default: '60' },
      chunks: { type: 'string', default: '200' },
      'gap-ms': { type: 'string', default: '2' },
      keep: { type: 'string' },
      'sdk-from': { type: 'string' },
    },
  });
  const [chats, chunks, gap] = [values.chats, values.chunks, values['gap-ms']].map(Number);
  if (![chats, chunks, gap].every(n => Number.isInteger(n) && n > 0)) throw new UsageError('--chats, --chunks and --gap-ms take whole numbers above 0');
  const tree = values['sdk-from'] ? treeWithSdk(values['sdk-from']) : null;
  const root = tree ?? REPO_ROOT;
  const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'aisdk-profile-'));
  const mock = await startMockProvider({ binary: process.env.MOCK_PROVIDER_BIN || join(REPO_ROOT, 'target/release/mock-provider') });
  try {
    const sdk = await startAisdkNode(root, mock.baseUrl, dir);
    const directive = `chunks=${chunks} ttft_ms=1 gap_ms=${gap}`;
    let played;
    try {
      await play(sdk.url, WARMUP_CHATS, directive);
      played = await play(sdk.url, chats, directive);
    } finally {
      await sdk.stop();
    }
    const file = readdirSync(dir).find(f => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`node wrote no profile into ${dir}`);
    const groups = attribute(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    const busy = [...groups.values()].reduce((a, b) => a + b, 0);
    await writeLine(JSON.stringify({
      node: process.version,
      ai: aiVersion(root),
      chats,
      chunks: played,
      busy_ms: Math.round(busy / 1e3),
      // Warm-up chats are in the profile too: per chunk over every chunk the process served.
      busy_us_per_chunk: Math.round(busy / (played + WARMUP_CHATS * chunks)),
      groups: [...groups.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([name, us]) => ({ name, ms: Math.round(us / 1e3), share: Number((us / busy).toFixed(3)) })),
    }));
  } finally {
    await mock.stop();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    if (tree) rmSync(tree, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) runMain(main, USAGE);
