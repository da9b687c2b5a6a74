#!/usr/bin/env node
// CPU per chunk of the sidecar's chat pipeline alone, stage by stage, in one Node process
// (docs/frames.md#what-the-sdk-costs-before-any-wire): the chat function of the bundle plays an
// open loop of `text` conversations against a provider, and the process's CPU (every thread,
// `process.cpuUsage`) over the window is divided by the text chunks read. Each mode reads the
// answer to a different depth, with no socket write to anyone:
//
//   chunks     the frames wire's reader (src/ui-chunks.mjs): streamText's own stream, each part
//              through the SDK's one-object converter; the floor of any wire that runs streamText
//   frames     chunks, each serialised and framed as the frames wire does, then dropped
//   ui-stream  the SDK's UI message stream with the end-at-first-error stage (the frames wire before)
//   sse        that stream through the SDK's JSON-to-SSE and text-encoder stages, as
//              `pipeUIMessageStreamToResponse` writes to a socket (aisdk-node without its writes)
//
// CLI: node backends/sidecar/bench/pipeline-cpu.mjs --provider-url http://HOST:PORT/v1 --mode M
//        [--rate 2] [--seconds 8] [--chunks 200] [--gap-ms 10] [--chat dist/chat.mjs]
// Run it on a core of its own (`taskset -c 1`), the provider on another, beside
// `scripts/cpu-per-chunk` for the whole servers, alternately. Stdout: one JSON line.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { FRAME_KIND } from '../../../contract/js/contract.mjs';
import { encodeFrame } from '../src/frames.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Conversations before the window: module loading and JIT warm-up stay out of the figure. */
const WARMUP_CHATS = 10;
const MODES = ['chunks', 'frames', 'ui-stream', 'sse'];

const { values } = parseArgs({
  options: {
    'provider-url': { type: 'string' },
    mode: { type: 'string' },
    rate: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '8' },
    chunks: { type: 'string', default: '200' },
    'gap-ms': { type: 'string', default: '10' },
    chat: { type: 'string', default: 'dist/chat.mjs' },
  },
});
if (!values['provider-url'] || !MODES.includes(values.mode)) {
  process.stderr.write(`usage: pipeline-cpu.mjs --provider-url URL --mode ${MODES.join('|')} [--rate N] [--seconds N] [--chunks N] [--gap-ms N]\n`);
  process.exit(2);
}

const ai = await import(path.resolve(ROOT, 'node_modules/ai/dist/index.js'));
const { createChat } = await import(path.resolve(ROOT, values.chat));
const chat = createChat({
  providerUrl: values['provider-url'],
  apiKey: 'k',
  model: 'mock-gpt',
  toolDefinitions: [],
  callTool: async () => ({ status: 'error', message: 'no tools here' }),
});
const directive = `[[scenario:text chunks=${values.chunks} gap_ms=${values['gap-ms']} ttft_ms=20]] hi`;
const body = () => ({ id: 'probe', trigger: 'submit-message', messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: directive }] }] });

/** Reads one conversation to its end at the mode's depth; resolves to its text chunks. */
async function play(mode) {
  let texts = 0;
  if (mode === 'chunks' || mode === 'frames') {
    const reader = await chat.readChatChunks(body());
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      if (next.value.type === 'text-delta') texts += 1;
      if (mode === 'frames') encodeFrame(FRAME_KIND.chunk, 1, JSON.stringify(next.value));
    }
    return texts;
  }
  let stream = await chat.streamChat(body());
  if (mode === 'sse') {
    stream = stream.pipeThrough(new ai.JsonToSseTransformStream()).pipeThrough(new TextEncoderStream());
    const reader = stream.getReader();
    const needle = '"type":"text-delta"';
    const decoder = new TextDecoder();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      if (decoder.decode(next.value).includes(needle)) texts += 1;
    }
    return texts;
  }
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    if (next.value.type === 'text-delta') texts += 1;
  }
  return texts;
}

async function openLoop(mode, rate, seconds) {
  const plays = [];
  const begin = performance.now();
  for (let k = 0; k / rate < seconds; k += 1) {
    const delay = begin + (1000 * k) / rate - performance.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    plays.push(play(mode));
  }
  return (await Promise.all(plays)).reduce((a, b) => a + b, 0);
}

await openLoop(values.mode, WARMUP_CHATS / 2, 2);
const before = process.cpuUsage();
const texts = await openLoop(values.mode, Number(values.rate), Number(values.seconds));
const used = process.cpuUsage(before);
process.stdout.write(
  `${JSON.stringify({
    mode: values.mode,
    text_chunks: texts,
    cpu_us_per_chunk: Math.round((10 * (used.user + used.system)) / texts) / 10,
    user_us_per_chunk: Math.round((10 * used.user) / texts) / 10,
  })}\n`,
);
