// The `fetch` the OpenAI provider uses: the platform's, plus two guards the AI SDK lacks.
//
// 1. Idle timeout: a provider that sends nothing for `idleTimeoutMs` (before its headers, or
//    between two body chunks) fails the request with `ProviderIdleError`. The SDK's own
//    `timeout.chunkMs` aborts instead, which a client sees as `abort`, not as an `error` chunk.
// 2. Truncation: an event stream whose body ends before `data: [DONE]` fails with
//    `ProviderTruncatedError`; otherwise the SDK would report a cut-off answer as finished.
// Both surface as a stream error, so the UI stream ends with an `error` chunk and `[DONE]`.

import { ProviderIdleError, ProviderTruncatedError } from './errors.mjs';

const DONE_MARKER = Buffer.from('[DONE]');

export function guardProviderFetch({ idleTimeoutMs, fetch: baseFetch = globalThis.fetch }) {
  return async (input, init = {}) => {
    const idle = new AbortController();
    const signal = init.signal ? AbortSignal.any([init.signal, idle.signal]) : idle.signal;
    const timer = setTimeout(() => idle.abort(new ProviderIdleError(idleTimeoutMs)), idleTimeoutMs);
    let response;
    try {
      response = await baseFetch(input, { ...init, signal });
    } catch (error) {
      throw idle.signal.aborted ? idle.signal.reason : error;
    } finally {
      clearTimeout(timer);
    }
    const isEventStream = (response.headers.get('content-type') ?? '').includes('text/event-stream');
    if (!response.ok || !isEventStream || response.body == null) return response;
    return new Response(guardBody(response.body, idleTimeoutMs, init.signal), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

function guardBody(body, idleTimeoutMs, callerSignal) {
  const reader = body.getReader();
  const done = new DoneMarkerSearch();
  let reading = false;
  let finished = false;
  let controller;

  // One timer per body, re-armed with `refresh()` as each read starts: it fires
  // `idleTimeoutMs` after the latest read began, which is a timeout only if that read is still
  // outstanding (a slow consumer is not a silent provider). A timer created and cleared per
  // chunk cost an allocation and two list operations on every chunk (docs/ai-sdk-cost.md).
  const timer = setTimeout(() => {
    if (!reading || finished) return;
    finished = true;
    const error = new ProviderIdleError(idleTimeoutMs);
    controller.error(error);
    reader.cancel(error).catch(() => {});
  }, idleTimeoutMs);
  // The timer holds the process only while a read is outstanding: a body dropped unread must
  // not hold it for `idleTimeoutMs`, and a read waiting on a silent provider must time out even
  // when nothing else keeps the process alive.
  timer.unref();
  const finish = () => {
    finished = true;
    clearTimeout(timer);
  };

  return new ReadableStream({
    start(c) {
      controller = c;
    },
    async pull() {
      reading = true;
      timer.refresh().ref();
      try {
        const { done: ended, value } = await reader.read();
        if (finished) return;
        if (ended) {
          finish();
          if (done.seen) controller.close();
          else controller.error(new ProviderTruncatedError());
          return;
        }
        done.scan(value);
        controller.enqueue(value);
      } catch (error) {
        if (finished) return;
        finish();
        // A connection that breaks mid-body is a truncation; an abort stays an abort.
        const aborted = callerSignal?.aborted || error?.name === 'AbortError';
        controller.error(aborted ? error : new ProviderTruncatedError({ cause: error }));
      } finally {
        reading = false;
        timer.unref();
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
}

/**
 * Looks for `[DONE]` in the raw body bytes, across read boundaries, without decoding them or
 * copying them: the marker is ASCII, and no byte of a multi-byte UTF-8 character is ASCII, so a
 * byte match is a text match. Decoding every read to search its text cost about as much as the
 * rest of this guard (docs/ai-sdk-cost.md). Once seen, later reads are not searched.
 */
class DoneMarkerSearch {
  seen = false;
  /** How many leading bytes of the marker the bytes read so far end with (0 to length - 1). */
  #partial = 0;

  scan(bytes) {
    if (this.seen || bytes.byteLength === 0) return;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.#partial > 0) {
      // The marker's first byte occurs in it only once, so a broken match never restarts
      // inside the bytes it covered.
      const rest = Math.min(DONE_MARKER.length - this.#partial, view.length);
      if (view.compare(DONE_MARKER, this.#partial, this.#partial + rest, 0, rest) === 0) {
        this.#partial += rest;
        if (this.#partial === DONE_MARKER.length) this.seen = true;
        return;
      }
      this.#partial = 0;
    }
    if (view.includes(DONE_MARKER)) {
      this.seen = true;
      return;
    }
    // A marker cut by the end of this read starts at its last `[`, within the last few bytes.
    const start = view.lastIndexOf(DONE_MARKER[0]);
    if (start >= 0 && start >= view.length - (DONE_MARKER.length - 1) && view.compare(DONE_MARKER, 0, view.length - start, start) === 0) {
      this.#partial = view.length - start;
    }
  }
}
