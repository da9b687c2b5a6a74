// The `fetch` the OpenAI provider uses: the platform's, plus two guards the AI SDK lacks.
//
// 1. Idle timeout: a provider that sends nothing for `idleTimeoutMs` (before its headers, or
//    between two body chunks) fails the request with `ProviderIdleError`. The SDK's own
//    `timeout.chunkMs` aborts instead, which a client sees as `abort`, not as an `error` chunk.
// 2. Truncation: an event stream whose body ends before `data: [DONE]` fails with
//    `ProviderTruncatedError`; otherwise the SDK would report a cut-off answer as finished.
// Both surface as a stream error, so the UI stream ends with an `error` chunk and `[DONE]`.

import { ProviderIdleError, ProviderTruncatedError } from './errors.mjs';

const DONE_MARKER = '[DONE]';

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
  const decoder = new TextDecoder();
  let tail = '';
  let sawDone = false;
  let finished = false;

  return new ReadableStream({
    async pull(controller) {
      // The timer runs only while a read is outstanding: a slow consumer is not a silent provider.
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        finished = true;
        const error = new ProviderIdleError(idleTimeoutMs);
        controller.error(error);
        reader.cancel(error).catch(() => {});
      }, idleTimeoutMs);
      try {
        const { done, value } = await reader.read();
        if (timedOut || finished) return;
        if (done) {
          finished = true;
          if (sawDone) controller.close();
          else controller.error(new ProviderTruncatedError());
          return;
        }
        if (!sawDone) {
          const text = tail + decoder.decode(value, { stream: true });
          sawDone = text.includes(DONE_MARKER);
          tail = text.slice(-DONE_MARKER.length);
        }
        controller.enqueue(value);
      } catch (error) {
        if (timedOut || finished) return;
        finished = true;
        // A connection that breaks mid-body is a truncation; an abort stays an abort.
        const aborted = callerSignal?.aborted || error?.name === 'AbortError';
        controller.error(aborted ? error : new ProviderTruncatedError({ cause: error }));
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      finished = true;
      return reader.cancel(reason);
    },
  });
}
