// The `fetch` the chat transport uses: the browser's own, with failures turned into sentences a
// person can act on. useChat shows whatever the transport throws; by default that is the raw
// response body (a JSON error object) or the browser's "Failed to fetch" / "network error".
//
// - the server cannot be reached (down, restarting): kind `unreachable`;
// - it answers an HTTP error (429, 503, 400, ...): kind `http`, with its message and Retry-After;
// - the connection is lost while the answer streams: kind `cut`.
// An abort (the Stop button) is passed through untouched: useChat treats it as a stop, not an error.

export class ChatRequestError extends Error {
  constructor(kind, message, { status, retryAfterS } = {}) {
    super(message);
    this.name = 'ChatRequestError';
    this.kind = kind;
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

function isAbort(error, signal) {
  return error?.name === 'AbortError' || Boolean(signal?.aborted);
}

/** Wraps `baseFetch` (the browser's fetch by default) as described above. */
export function createChatFetch(baseFetch = (...args) => globalThis.fetch(...args)) {
  return async function chatFetch(input, init = {}) {
    let response;
    try {
      response = await baseFetch(input, init);
    } catch (error) {
      if (isAbort(error, init.signal)) throw error;
      throw new ChatRequestError(
        'unreachable',
        'Cannot reach the chat server: it is down or restarting. Your message is kept; press Retry when the server is back.',
      );
    }
    if (!response.ok) throw await httpError(response);
    if (!response.body) return response;
    return new Response(guardBody(response.body, init.signal), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

async function httpError(response) {
  const text = await response.text().catch(() => '');
  let detail = text.trim();
  try {
    // The backends answer errors as {"error":{"code","message"}}.
    const parsed = JSON.parse(text);
    if (typeof parsed?.error?.message === 'string') detail = parsed.error.message;
  } catch {
    // Not JSON: the body itself is the best description there is.
  }
  const retryAfterS = retryAfterSeconds(response.headers.get('retry-after'));
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  let message = `The chat server answered ${status}`;
  if (detail) message += `: ${detail}`;
  if (!/[.!?]$/.test(message)) message += '.';
  if (retryAfterS != null) message += ` Try again in ${retryAfterS} s.`;
  return new ChatRequestError('http', message, { status: response.status, retryAfterS });
}

/** `Retry-After` in whole seconds (delta-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(value) {
  if (value == null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The response body, with a broken connection turned into a `cut` error. */
function guardBody(body, signal) {
  const reader = body.getReader();
  return new ReadableStream({
    async pull(controller) {
      let result;
      try {
        result = await reader.read();
      } catch (error) {
        controller.error(
          isAbort(error, signal)
            ? error
            : new ChatRequestError(
                'cut',
                'The connection to the chat server was lost before the answer finished. Your message is kept; press Retry to send it again.',
              ),
        );
        return;
      }
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
