#!/usr/bin/env node
// The oracle: reads UI message streams exactly as the browser's `useChat` does, with the AI SDK's
// own code, so the Rust side's reading of a backend's answer can be checked against the real one.
//
// CLI (batch mode: one Node start for many streams):
//   node sut-kit/node/read-ui-stream.mjs < streams.jsonl
// Each stdin line: {"id": "...", "sse": "<raw response body text>", "message"?: UIMessage}.
//   message:    optional; the assistant message the stream continues (useChat passes the last
//               assistant message when it resumes after a tool approval or a client tool output).
// Each stdout line (one per input, in order, written as soon as it is read):
//   {"id", "ok", "message", "errors", "chunkTypes", "done"}
//   ok:         the SDK reported no error at all (no `error` chunk, no invalid chunk, no
//               protocol violation such as a text-delta without text-start);
//   message:    the last UIMessage `readUIMessageStream` produced, as JSON (fields the SDK left
//               undefined are absent), or null if it produced none
//               (it emits a message only once a chunk changes it: a lone `start` without a
//               messageId, an `error` or `[DONE]` build nothing);
//   errors:     every error the SDK reported, in order: an `error` chunk's errorText verbatim,
//               anything else as "<ErrorName>: <message>";
//   chunkTypes: the `type` of each chunk that passed the schema and reached the message builder;
//   done:       the stream carried `data: [DONE]`.
// A line that is not such an object still gets an answer line (ok false, the problem in errors),
// and the exit code is then 2. Exit code 0 otherwise, whatever the streams held.
//
// Reading semantics, as in `DefaultChatTransport.processResponseStream` and `Chat.makeRequest`:
// `parseJsonEventStream({stream, schema: uiMessageChunkSchema})`; a chunk that fails to parse or
// validate throws and ends the read. `readUIMessageStream` runs with `terminateOnError: false`: it
// reports each error through `onError` and still closes its stream normally, so the message built
// up to the failure is kept. An `error` chunk is reported and reading goes on (useChat would stop
// there with status "error"; the chunks after it are still listed, so the caller can judge).

import { EventSourceParserStream } from 'eventsource-parser/stream';
import { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema } from 'ai';
import { createInterface } from 'node:readline';
import { bytesStream, describeError, isMain, runMain, UsageError, writeLine } from './lib/cli.mjs';

const USAGE = `usage: node read-ui-stream.mjs < streams.jsonl
  stdin:  one JSON object per line: {"id": "...", "sse": "<raw response body>"}
  stdout: one JSON object per line: {"id","ok","message","errors","chunkTypes","done"}
`;

/**
 * Reads one raw UI message stream body the way useChat does; `message` is the assistant message
 * the stream continues, if any.
 */
export async function readUiStream(sse, { message: continued } = {}) {
  const errors = [];
  const chunkTypes = [];

  const checkedChunks = parseJsonEventStream({
    stream: bytesStream(sse),
    schema: uiMessageChunkSchema,
  }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (!result.success) throw result.error;
        chunkTypes.push(result.value.type);
        controller.enqueue(result.value);
      },
    }),
  );

  let message = null;
  for await (const snapshot of readUIMessageStream({
    message: continued == null ? undefined : structuredClone(continued),
    stream: checkedChunks,
    terminateOnError: false,
    onError: error => errors.push(describeError(error)),
  })) {
    message = snapshot;
  }

  // As JSON, the way the message would travel in the next request: no `undefined` fields.
  message = message == null ? null : JSON.parse(JSON.stringify(message));
  return { ok: errors.length === 0, message, errors, chunkTypes, done: await sawDone(sse) };
}

/** Whether the event stream carries `[DONE]`, read with the same event-stream parser. */
async function sawDone(sse) {
  const events = bytesStream(sse)
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream());
  let done = false;
  for await (const event of events) {
    if (event.data === '[DONE]') done = true;
  }
  return done;
}

function parseInputLine(line) {
  try {
    return JSON.parse(line);
  } catch (error) {
    throw new Error(`input line is not JSON: ${error.message}`);
  }
}

function checkInput(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new Error('input line must be a JSON object {"id", "sse"}');
  }
  if (typeof input.sse !== 'string') {
    throw new Error('input line has no string "sse" field');
  }
  if (input.message != null && (typeof input.message !== 'object' || !Array.isArray(input.message.parts))) {
    throw new Error('input line\'s "message" is not a UIMessage');
  }
  return input;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stderr.write(USAGE);
    return 0;
  }
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);

  let badInput = false;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let id = null;
    let answer;
    try {
      const input = parseInputLine(line);
      id = input?.id ?? null;
      checkInput(input);
      answer = await readUiStream(input.sse, { message: input.message });
    } catch (error) {
      badInput = true;
      answer = { ok: false, message: null, errors: [`input: ${error.message}`], chunkTypes: [], done: false };
    }
    await writeLine(JSON.stringify({ id, ...answer }));
  }
  return badInput ? 2 : 0;
}

if (isMain(import.meta.url)) runMain(main, USAGE);
