'use strict';
// The JS half of one `/api/chat` request in the napi backend.
//
// Rust calls `handleChat(requestJson, sink, requestId)` through a threadsafe function for every request.
// It runs the sidecar package's chat function (the same code the unix and http backends run),
// pushes each UI chunk into the Rust sink as soon as the AI SDK produces it, and always ends the
// sink: `end()` after the last chunk, `fail(message)` on an exception. The promise it returns
// never rejects, so no JS exception of a request can reach Node's `uncaughtException` path
// through this function: an ordinary exception costs one request, not the process.
//
// Backpressure: `sink.write` returns false when the request's bounded queue in Rust is full; the
// loop then awaits `sink.ready()` and writes the same chunk again, so a slow client slows the
// reading of its own provider stream and nothing else.
//
// Abort: `sink.closed()` resolves true when the client disconnects or the server shuts down;
// that aborts the AbortController handed to the AI SDK, which cancels the provider request.

/** Test-only fault hook, honoured only with `--enable-fault-injection`: a last user message
 * containing this marker makes the request throw an ordinary JS exception after its first
 * chunk, to show that one request's exception leaves the process and other requests alone. */
const JS_THROW_MARKER = '[[napi-fault:js-throw]]';

/**
 * @param {object} options
 * @param {{streamChat: (body: object, signal: AbortSignal) => Promise<ReadableStream>}} options.chat
 * @param {Function} [options.ChatInputError] the chat module's error class for unusable input.
 * @param {boolean} options.faultInjection
 * @param {(line: string) => void} options.log
 */
function createChatHandler({ chat, ChatInputError, faultInjection, log }) {
  const isInputError = (error) =>
    (ChatInputError !== undefined && error instanceof ChatInputError) ||
    error?.name === 'ChatInputError';

  // `requestId`: the id the client sees in `x-request-id` (docs/architecture.md#request-id).
  return async function handleChat(requestJson, sink, requestId) {
    const abort = new AbortController();
    sink.closed().then(
      (aborted) => {
        if (aborted) abort.abort(new Error('the client went away'));
      },
      () => {},
    );
    let reader;
    try {
      const body = JSON.parse(requestJson);
      const throwAfterFirstChunk = faultInjection && lastUserText(body).includes(JS_THROW_MARKER);
      let stream;
      try {
        stream = await chat.streamChat(body, abort.signal, { requestId });
      } catch (error) {
        if (isInputError(error)) {
          sink.reject(error.message);
          return;
        }
        throw error;
      }
      sink.accept();
      reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!(await deliver(sink, JSON.stringify(value)))) {
          // The client is gone: stop reading; the abort signal has cancelled the provider.
          await reader.cancel().catch(() => {});
          return;
        }
        if (throwAfterFirstChunk) {
          throw new Error('injected JS exception inside one chat request (fault injection)');
        }
      }
      sink.end();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`chat request failed in JS [request ${requestId ?? '-'}]: ${error?.name ?? 'Error'}: ${message}${where(error)}`);
      sink.fail(message);
      if (reader !== undefined) await reader.cancel().catch(() => {});
      abort.abort(error);
    } finally {
      // A no-op when the stream already ended; guarantees Rust never waits for an ending.
      sink.end();
    }
  };
}

/** Writes one chunk, waiting for room when the request's queue is full. False: client gone. */
async function deliver(sink, json) {
  while (!sink.write(json)) {
    if (sink.isClosed || !(await sink.ready())) return false;
  }
  return true;
}

/** ` at <file>:<line>:<column>`: the first frame of the error's stack, where it was raised. */
function where(error) {
  const frame = typeof error?.stack === 'string' ? /\n\s*at (?:.*\()?([^()\s]+:\d+:\d+)\)?/.exec(error.stack) : null;
  return frame ? ` at ${frame[1]}` : '';
}

function lastUserText(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const message = messages[i];
    if (message?.role !== 'user' || !Array.isArray(message.parts)) continue;
    return message.parts
      .filter((part) => part?.type === 'text' && typeof part.text === 'string')
      .map((part) => part.text)
      .join('');
  }
  return '';
}

module.exports = { createChatHandler, JS_THROW_MARKER };
