#!/usr/bin/env node
// A reference run of the real AI SDK: `streamText` with the OpenAI chat model against an
// OpenAI-compatible base URL (the mock provider), producing what a backend built on the AI SDK
// would answer. The parity tests compare every backend's final message with this one, and the
// mock provider's protocol is proven against it.
//
// CLI: node sut-kit/node/reference-chat.mjs --base-url URL (--text TEXT | --body-stdin)
//        [--tools-rest URL | --fake-tools] [--model M] [--timeout-ms N]
//   --base-url URL    OpenAI-compatible base URL, e.g. http://127.0.0.1:PORT/v1
//   --text TEXT       one user message with this text
//   --body-stdin      a useChat request body ({"messages": [...]}) on stdin
//   --tools-rest URL  tools from URL/api/tools, executed through the backend's REST routes
//   --fake-tools      canned JS tools (lib/fake-tools.mjs), for testing the provider alone
//                     (neither: no tools)
//   --model M         model name (default mock-gpt); API key from OPENAI_API_KEY (default mock-key)
//   --timeout-ms N    abort the run after N ms (default 60000)
// Stdout: one JSON object {"message", "chunks", "sse", "errors"}: the final UIMessage
// `readUIMessageStream` builds from `toUIMessageStream()`, every UI chunk in order, the exact
// bytes `pipeUIMessageStreamToResponse` would write, and the errors the client reported.
// `errorText` follows lib/ui-error-text.mjs. Exit code 0 when the run produced a stream (even one
// that ends in an `error` chunk), 1 on failure, 2 on bad usage.

import { createOpenAI } from '@ai-sdk/openai';
import { convertToModelMessages, JsonToSseTransformStream, readUIMessageStream, stepCountIs, streamText } from 'ai';
import { parseArgs } from 'node:util';
import { describeError, isMain, readStdin, runMain, UsageError, writeLine } from './lib/cli.mjs';
import { fakeTools } from './lib/fake-tools.mjs';
import { loadRestTools } from './lib/rest-tools.mjs';
import { DEFAULT_MODEL, MAX_STEPS } from '../../contract/js/contract.mjs';
import { uiErrorText } from './lib/ui-error-text.mjs';

const USAGE = `usage: node reference-chat.mjs --base-url URL (--text TEXT | --body-stdin)
         [--tools-rest URL | --fake-tools] [--model M] [--timeout-ms N]
`;

const DEFAULT_TIMEOUT_MS = 60_000;

/** The UI messages of a conversation that is one user message. */
export function userMessages(text) {
  return [{ id: 'user-1', role: 'user', parts: [{ type: 'text', text }] }];
}

/**
 * Runs `streamText` over `messages` (UIMessages) with `tools` and reads its UI message stream.
 * Returns `{message, chunks, sse, errors}`.
 */
export async function referenceChat({ baseUrl, model = DEFAULT_MODEL, apiKey, messages, tools = {}, abortSignal, log = logToStderr }) {
  const provider = createOpenAI({ baseURL: baseUrl, apiKey: apiKey ?? process.env.OPENAI_API_KEY ?? 'mock-key' });
  const result = streamText({
    model: provider.chat(model),
    messages: await convertToModelMessages(messages, { tools }),
    tools,
    stopWhen: stepCountIs(MAX_STEPS),
    // No automatic retries: one provider request per step, so a failure is the provider's own
    // answer (backends keep the SDK's two retries; docs/architecture.md, "Error text").
    maxRetries: 0,
    abortSignal,
    onError: ({ error }) => log(`streamText: ${describeError(error)}`),
  });

  // Each chunk is recorded as JSON before the client reads it: the client mutates data parts
  // in place, and the record must show the chunk as it went over the wire.
  const wire = [];
  let closedNormally = false;
  const recorded = result.toUIMessageStream({ onError: uiErrorText }).pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        const json = JSON.stringify(chunk);
        wire.push(json);
        controller.enqueue(JSON.parse(json));
      },
      flush() {
        closedNormally = true;
      },
    }),
  );
  const errors = [];
  let message = null;
  for await (const snapshot of readUIMessageStream({ stream: recorded, onError: e => errors.push(describeError(e)) })) {
    message = snapshot;
  }

  // As JSON, like the oracle's reading: no `undefined` fields.
  message = message == null ? null : JSON.parse(JSON.stringify(message));
  const chunks = wire.map(json => JSON.parse(json));
  // A UI stream that broke (the SDK lets a provider body cut mid-stream surface as a broken
  // stream) makes `pipeUIMessageStreamToResponse` end the response without `[DONE]`.
  const sse = closedNormally
    ? await new Response(ReadableStream.from(chunks).pipeThrough(new JsonToSseTransformStream()).pipeThrough(new TextEncoderStream())).text()
    : chunks.map(chunk => `data: ${JSON.stringify(chunk)}\n\n`).join('');
  return { message, chunks, sse, errors };
}

function logToStderr(line) {
  process.stderr.write(`${line}\n`);
}

function parseCli(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'base-url': { type: 'string' },
        text: { type: 'string' },
        'body-stdin': { type: 'boolean', default: false },
        'tools-rest': { type: 'string' },
        'fake-tools': { type: 'boolean', default: false },
        model: { type: 'string', default: DEFAULT_MODEL },
        'timeout-ms': { type: 'string', default: String(DEFAULT_TIMEOUT_MS) },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error.message);
  }
  if (values.help) return { help: true };
  if (!values['base-url']) throw new UsageError('--base-url is required');
  if ((values.text != null) === values['body-stdin']) throw new UsageError('give exactly one of --text and --body-stdin');
  if (values['tools-rest'] != null && values['fake-tools']) throw new UsageError('give at most one of --tools-rest and --fake-tools');
  const timeoutMs = Number(values['timeout-ms']);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout-ms must be a positive integer');
  return { ...values, timeoutMs };
}

async function messagesFromStdin() {
  let body;
  try {
    body = JSON.parse(await readStdin());
  } catch (error) {
    throw new UsageError(`stdin is not a JSON request body: ${error.message}`);
  }
  if (!Array.isArray(body?.messages)) throw new UsageError('the request body on stdin has no "messages" array');
  return body.messages;
}

async function main() {
  const cli = parseCli(process.argv.slice(2));
  if (cli.help) {
    process.stderr.write(USAGE);
    return 0;
  }
  const messages = cli['body-stdin'] ? await messagesFromStdin() : userMessages(cli.text);
  const tools = cli['fake-tools'] ? fakeTools() : cli['tools-rest'] ? await loadRestTools(cli['tools-rest']) : {};
  const output = await referenceChat({
    baseUrl: cli['base-url'],
    model: cli.model,
    messages,
    tools,
    abortSignal: AbortSignal.timeout(cli.timeoutMs),
  });
  await writeLine(JSON.stringify(output));
  return 0;
}

if (isMain(import.meta.url)) runMain(main, USAGE);
