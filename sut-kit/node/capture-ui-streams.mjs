#!/usr/bin/env node
// Captures reference fixtures from the real ai@6 package for the contract crate's round-trip
// tests (`contract/tests/ai6_round_trip.rs`): UI message streams exactly as a route handler
// sends them, and `useChat` request bodies exactly as the browser's transport sends them.
// The files are committed; rerun this after upgrading `ai` and review the diff.
//
// CLI: node sut-kit/node/capture-ui-streams.mjs [--out DIR]
//   --out DIR   where to write (default: contract/tests/fixtures/ai7 in this repository)
// Writes DIR/<case>.sse (the response body bytes) for every case of lib/stream-cases.mjs, and for
// every turn of the conversation in lib/request-cases.mjs DIR/request-NN-<what>.json (the body
// useChat sent) and DIR/response-NN-<what>.sse (the stream that answered it). Lists them on stderr.
// Stdout stays empty. Files of earlier captures that no case produces any more are removed.

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UI_MESSAGE_STREAM_HEADERS } from 'ai';
import { isMain, runMain, UsageError } from './lib/cli.mjs';
import { captureConversation } from './lib/request-cases.mjs';
import { STREAM_CASES } from './lib/stream-cases.mjs';

const USAGE = `usage: node capture-ui-streams.mjs [--out DIR]
  --out DIR  output folder (default: contract/tests/fixtures/ai7)
`;

const DEFAULT_OUT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../contract/tests/fixtures/ai7');

/** What each captured request shows, by position in the conversation. */
const REQUEST_NAMES = [
  'first-turn-with-file',
  'tool-results-sources-file',
  'approval-responded-client-tool-output',
  'approval-denied-history',
  'regenerate',
  'data-parts-metadata',
  'aborted-tool-input',
  'pending-approval-and-client-tool',
  'edit-first-message',
];

function parseArgs(args) {
  let out = DEFAULT_OUT;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out' && args[i + 1] != null) out = resolve(args[++i]);
    else throw new UsageError(`unexpected argument ${JSON.stringify(args[i])}`);
  }
  return { out };
}

async function captureStream(name, makeResponse) {
  const response = await makeResponse();
  for (const [header, value] of Object.entries(UI_MESSAGE_STREAM_HEADERS)) {
    if (response.headers.get(header) !== value) {
      throw new Error(`case ${name}: response header ${header} is ${response.headers.get(header)}, not ${value}`);
    }
  }
  return response.text();
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stderr.write(USAGE);
    return 0;
  }
  const { out } = parseArgs(args);
  await mkdir(out, { recursive: true });

  const files = new Map();
  for (const [name, makeResponse] of Object.entries(STREAM_CASES)) {
    files.set(`${name}.sse`, await captureStream(name, makeResponse));
  }
  const { requests, responses } = await captureConversation();
  if (requests.length !== REQUEST_NAMES.length) {
    throw new Error(`the conversation sent ${requests.length} requests, expected ${REQUEST_NAMES.length}`);
  }
  requests.forEach((body, i) => {
    const number = String(i + 1).padStart(2, '0');
    files.set(`request-${number}-${REQUEST_NAMES[i]}.json`, `${JSON.stringify(body, null, 2)}\n`);
    files.set(`response-${number}-${REQUEST_NAMES[i]}.sse`, responses[i]);
  });

  for (const stale of await readdir(out)) {
    if (!files.has(stale) && /\.(sse|json)$/.test(stale)) await rm(join(out, stale));
  }
  for (const [file, content] of files) {
    await writeFile(join(out, file), content);
    process.stderr.write(`wrote ${join(out, file)}\n`);
  }
  return 0;
}

if (isMain(import.meta.url)) runMain(main, USAGE);
