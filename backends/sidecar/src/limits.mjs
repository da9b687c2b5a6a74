// The two bounds a sidecar puts on what its chat streams hold, on both wires (`sse` and
// `frames`): how many streams it answers at once, and how long a stream may wait for its
// client (docs/readers.md#a-bound-for-stalled-readers).

/**
 * How long a chat stream may wait for its client to take anything (Node's `drain` on the `sse`
 * wire, a credit grant on the `frames` wire) before it is ended and its provider request
 * aborted: the same bound nginx's `send_timeout` puts on a client between two successive
 * writes (60 s). A reader at 1 KiB/s still drains Node's 16 KiB buffer within it.
 */
export const CLIENT_STALL_MS = 60_000;

/**
 * Chat streams one sidecar answers at once, both wires together. Above the bench's peak-memory
 * point (100 streams) and the soak's ceiling (64), so neither meets it
 * (docs/readers.md#a-bound-for-stalled-readers).
 */
export const MAX_STREAMS = 128;

/**
 * Counts the streams in flight against `limit`: `tryEnter()` is false at the limit (answer a
 * 503 then), and every stream that entered calls `leave()` once.
 */
export function createStreamGate(limit = MAX_STREAMS) {
  let inFlight = 0;
  return {
    limit,
    tryEnter() {
      if (inFlight >= limit) return false;
      inFlight += 1;
      return true;
    },
    leave() {
      inFlight -= 1;
    },
    /** The refusal's message, as the client reads it. */
    refusal: `the sidecar is at its limit of ${limit} streams in flight`,
  };
}

/** The log line of a refusal at the stream limit. */
export function refusedLine(gate, requestId) {
  return `refused a chat at the limit of ${gate.limit} streams in flight: answered 503 [request ${requestId ?? '-'}]`;
}

/** The log line of a stream ended by the stall limit. */
export function stalledLine(limitMs, requestId) {
  return `client took nothing for ${limitMs} ms: stream ended, provider request aborted [request ${requestId ?? '-'}]`;
}
