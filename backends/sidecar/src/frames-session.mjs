// The `frames` wire's sidecar end (docs/frames.md): the Rust server upgrades one connection
// (`GET /frames`, `Upgrade: leanspec-frames`, the same bearer token as every request) and then
// opens chat streams on it as frames. Each stream runs the chat function and sends the UI
// message chunks as objects serialised once, never as SSE: the Rust side writes the client's
// protocol. Every frame ready in one event-loop turn leaves in one write.

import { FRAME_KIND, FRAME_STREAM_WINDOW, REQUEST_ID_OPEN_FRAME_KEY } from '../../../contract/js/contract.mjs';
import { ChatInputError } from './chat.mjs';
import { encodeFrame, FrameDecoder, FrameError, kindName } from './frames.mjs';
import { CLIENT_STALL_MS, createStreamGate, refusedLine, stalledLine } from './limits.mjs';

/** The protocol name in the `Upgrade` header, both ways. */
export const FRAMES_UPGRADE = 'leanspec-frames';
export const FRAMES_PATH = '/frames';

/**
 * Serves frames on an upgraded socket until it closes; every stream still open is then
 * cancelled (its provider request aborted).
 * @param {import('node:net').Socket} socket
 * @param {Buffer} head bytes that arrived with the upgrade request
 * @param {object} options
 * @param {{streamChat: Function, readChatChunks?: Function}} options.chat
 * @param {(line: string) => void} options.log
 * @param {ReturnType<typeof createStreamGate>} [options.gate] streams in flight, shared with the
 *   `sse` wire: at its limit an `open` is refused with `unavailable` (the server's 503).
 * @param {number} [options.clientStallMs] a stream that waited this long for credit is ended
 *   and its provider request aborted (docs/readers.md#a-bound-for-stalled-readers).
 * @returns {{close: () => void}}
 */
export function serveFrames(socket, head, { chat, log, gate = createStreamGate(), clientStallMs = CLIENT_STALL_MS }) {
  socket.setNoDelay?.(true);
  const decoder = new FrameDecoder();
  /** @type {Map<number, {abort: AbortController, credit: number, wake?: () => void}>} */
  const streams = new Map();
  const writer = coalescingWriter(socket);

  const onBytes = (bytes) => {
    decoder.push(bytes);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
      if (frame instanceof FrameError) {
        log(`frames: ${frame.message}`);
        cancel(frame.stream);
        continue;
      }
      receive(frame);
    }
  };

  function receive({ kind, stream, payload }) {
    switch (kind) {
      case FRAME_KIND.open:
        if (streams.has(stream)) {
          log(`frames: stream ${stream} opened twice; ending it`);
          cancel(stream);
          return;
        }
        runStream(stream, payload);
        return;
      case FRAME_KIND.cancel:
        // A cancel may cross the stream's own end on the wire: nothing to do then.
        cancel(stream);
        return;
      case FRAME_KIND.credit: {
        const state = streams.get(stream);
        if (!state || payload.length !== 4) return;
        state.credit += payload.readUInt32BE(0);
        state.wake?.();
        return;
      }
      default:
        log(`frames: a ${kindName(kind)} frame is not for the sidecar (stream ${stream}); ending it`);
        cancel(stream);
    }
  }

  function cancel(stream) {
    const state = streams.get(stream);
    if (!state) return;
    state.abort.abort();
    state.wake?.();
  }

  async function runStream(id, payload) {
    const state = { abort: new AbortController(), credit: FRAME_STREAM_WINDOW, wake: undefined, requestId: undefined };
    streams.set(id, state);
    // Once the pump runs, it ends the stream itself (`end`); before, a failure is an `error`.
    let pumping = false;
    let entered = false;
    let requestId;
    try {
      let body;
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch (error) {
        return refuse(id, `body is not valid JSON: ${error.message}`);
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        return refuse(id, 'body must be a JSON object with `messages`');
      }
      // The id the Rust server gave the request, beside the body's own keys (docs/frames.md).
      requestId = body[REQUEST_ID_OPEN_FRAME_KEY];
      state.requestId = requestId;
      delete body[REQUEST_ID_OPEN_FRAME_KEY];
      // The same bound as the `sse` wire's 503, before the provider is asked anything.
      if (!gate.tryEnter()) {
        log(refusedLine(gate, requestId));
        return refuse(id, gate.refusal, 'unavailable');
      }
      entered = true;
      let reader;
      try {
        reader = await readChunks(chat, body, state.abort.signal, requestId);
      } catch (error) {
        if (error instanceof ChatInputError) return refuse(id, error.message);
        throw error;
      }
      pumping = true;
      await pump(id, state, reader);
    } catch (error) {
      log(`frames: stream ${id} failed [request ${requestId ?? '-'}]: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
      if (!pumping) writer.send(encodeFrame(FRAME_KIND.error, id, JSON.stringify({ error: { code: 'internal', message: 'internal error in the sidecar' } })));
    } finally {
      streams.delete(id);
      if (entered) gate.leave();
    }
  }

  async function pump(id, state, reader) {
    const { signal } = state.abort;
    let stalled = false;
    try {
      while (!signal.aborted) {
        if (state.credit === 0) {
          // Backpressure for this stream alone: wait for the Rust side to grant more, which it
          // does as its client takes chunks; a client that takes nothing ends the stream.
          stalled = !(await creditWithin(state, clientStallMs));
          if (stalled) {
            log(stalledLine(clientStallMs, state.requestId));
            state.abort.abort();
          }
          continue;
        }
        const { done, value } = await reader.read();
        if (done) break;
        state.credit -= 1;
        writer.send(encodeFrame(FRAME_KIND.chunk, id, JSON.stringify(value)));
      }
    } finally {
      // Cancelled: abort the provider request (the chat stream's cancel does) and say `end`, so
      // the Rust side may forget the stream; chunks sent before it are dropped there. Ended by
      // the stall limit: an `error`, so the client's stream ends as a failed one.
      if (signal.aborted) reader.cancel().catch(() => {});
      if (stalled) refuse(id, `the client took nothing for ${clientStallMs} ms`, 'unavailable');
      else writer.send(encodeFrame(FRAME_KIND.end, id));
    }
  }

  function refuse(id, message, code = 'invalid_request') {
    writer.send(encodeFrame(FRAME_KIND.error, id, JSON.stringify({ error: { code, message } })));
  }

  const closeAll = () => {
    writer.closed = true;
    for (const id of [...streams.keys()]) cancel(id);
  };
  socket.on('data', onBytes);
  socket.on('close', closeAll);
  socket.on('error', (error) => log(`frames: connection error: ${error.message}`));
  if (head?.length) onBytes(head);
  return {
    close() {
      closeAll();
      socket.destroy();
    },
  };
}

/**
 * The chat's chunks as a reader: the chat function's own chunk reader where it has one (no
 * stream stage after the SDK's `streamText`: ui-chunks.mjs), else its UI stream's reader.
 */
async function readChunks(chat, body, signal, requestId) {
  if (typeof chat.readChatChunks === 'function') return chat.readChatChunks(body, signal, { requestId });
  return (await chat.streamChat(body, signal, { requestId })).getReader();
}

/**
 * Resolves true once `state` has credit again (or its stream was cancelled), false when
 * `limitMs` passed without.
 */
function creditWithin(state, limitMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      state.wake = undefined;
      resolve(false);
    }, limitMs);
    state.wake = () => {
      clearTimeout(timer);
      state.wake = undefined;
      resolve(true);
    };
  });
}

/**
 * Frames queued during one event-loop turn leave in one write (corked, then uncorked in the
 * check phase, after the turn's I/O callbacks and the microtasks they ran).
 */
export function coalescingWriter(socket) {
  const writer = {
    closed: false,
    scheduled: false,
    send(frame) {
      if (writer.closed || socket.destroyed) return;
      if (!writer.scheduled) {
        writer.scheduled = true;
        socket.cork();
        setImmediate(() => {
          writer.scheduled = false;
          if (!socket.destroyed) socket.uncork();
        });
      }
      socket.write(frame);
    },
  };
  return writer;
}

/**
 * Lets `server` take frames connections: `GET /frames` with `Upgrade: leanspec-frames` and, when
 * the sidecar demands one, its bearer token. Returns `closeAll()` for shutdown (upgraded sockets
 * are no longer the HTTP server's, so `closeAllConnections` does not reach them).
 */
export function acceptFrames(server, { chat, authorized, log, gate, clientStallMs }) {
  const sessions = new Set();
  server.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url ?? '/', 'http://sidecar');
    if (pathname !== FRAMES_PATH || String(req.headers.upgrade).toLowerCase() !== FRAMES_UPGRADE) {
      refuseUpgrade(socket, '404 Not Found');
      return;
    }
    if (!authorized(req.headers.authorization)) {
      refuseUpgrade(socket, '401 Unauthorized');
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${FRAMES_UPGRADE}\r\n\r\n`);
    const session = serveFrames(socket, head, { chat, log, gate, clientStallMs });
    sessions.add(session);
    socket.on('close', () => sessions.delete(session));
  });
  return {
    closeAll() {
      for (const session of sessions) session.close();
    },
  };
}

function refuseUpgrade(socket, status) {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
