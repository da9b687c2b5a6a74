// The `frames` wire's reader of a chat's UI message chunks (docs/frames.md#the-direct-reader).
//
// The SDK's `toUIMessageStream` is three Web Streams stages per chunk (a ReadableStream pulling
// `streamText`'s stream, a TransformStream calling `toUIMessageChunk` on each part, a
// TransformStream that injects a message id), and chat.mjs's end-at-first-error rule adds a
// fourth. The frames pump only ever reads one chunk at a time, so here the same SDK function,
// `toUIMessageChunk`, is called on each part as it is read, and the same rules apply inline:
// the chunks are the SDK's own objects, with no stream stage after `streamText`'s.

import { errorText } from './errors.mjs';

const DONE = Object.freeze({ done: true, value: undefined });

/**
 * A reader (`read()`, `cancel()`, as a ReadableStream's reader has) of the UI message chunks
 * `toUIMessageStream({ stream, tools, onError })` would produce, ended at the first `error`
 * chunk as chat.mjs's `endAtFirstError` ends its stream.
 * @param {ReadableStream} parts `streamText`'s `stream` (the TextStreamParts)
 * @param {object} options
 * @param {Function} options.toUIMessageChunk the SDK's per-part converter
 * @param {object} options.tools the request's tools (tool chunks name them)
 * @param {AbortSignal} [options.callerSignal] aborted when the client went away
 * @param {() => void} options.stopUpstream aborts the provider request
 * @param {(error: unknown) => void} options.onBroken logs a stream that broke mid-read
 */
export function uiChunkReader(parts, { toUIMessageChunk, tools, callerSignal, stopUpstream, onBroken }) {
  const reader = parts.getReader();
  // The options toUIMessageStream passes on for chat.mjs's call: redacted tool errors (the
  // default whenever onError is given), no message metadata, no message id (no original
  // messages and no id generator were given to it either).
  const options = { tools, onError: errorText };
  // toUIMessageStream drops a `tool-error` that answers an invalid tool call (the call's own
  // `tool-input-error` chunk has said it already); the same bookkeeping, per request.
  const invalidToolCalls = new Set();
  let finished = false;
  const finish = () => {
    finished = true;
    reader.cancel().catch(() => {});
    stopUpstream();
  };

  function convert(part) {
    if (part.type === 'tool-call' && part.invalid) invalidToolCalls.add(part.toolCallId);
    if (part.type === 'tool-error' && !part.providerExecuted && invalidToolCalls.delete(part.toolCallId)) return undefined;
    return toUIMessageChunk(part, options);
  }

  return {
    async read() {
      while (!finished) {
        let chunk;
        try {
          const { done, value } = await reader.read();
          if (done) {
            finished = true;
            break;
          }
          chunk = convert(value);
        } catch (error) {
          // Aborted by the caller: nobody is listening for an error chunk.
          if (callerSignal?.aborted) {
            finished = true;
            break;
          }
          onBroken(error);
          finish();
          return { done: false, value: { type: 'error', errorText: errorText(error) } };
        }
        if (chunk === undefined) continue;
        // The first error chunk is the last one forwarded (docs/design.md#an-upstream-failure-ends-the-answer).
        if (chunk.type === 'error') finish();
        return { done: false, value: chunk };
      }
      return DONE;
    },
    // The consumer stopped reading: end the provider request too (chat.mjs says why the
    // explicit abort is needed).
    async cancel(reason) {
      finished = true;
      stopUpstream();
      await reader.cancel(reason).catch(() => {});
    },
  };
}
