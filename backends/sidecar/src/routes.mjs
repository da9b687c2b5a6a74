// The sidecar's routes: `POST /api/chat` (the UI message stream), `GET /health` and
// `GET /health/memory` (the process's own memory figures, for the host's `/health/runtime`).
// Errors are the project's JSON body `{"error":{"code","message"}}` (contract::api_error), each
// code with the status the contract gives it.

import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { pipeUIMessageStreamToResponse } from 'ai';

import {
  ERROR_STATUS,
  MAX_BODY_BYTES,
  REQUEST_ID_HEADER,
  SIDECAR_MEMORY_PATH,
} from '../../../contract/js/contract.mjs';
import { ChatInputError } from './chat.mjs';
import { CLIENT_STALL_MS, createStreamGate, MAX_STREAMS, refusedLine, stalledLine } from './limits.mjs';

/**
 * What a chat response buffers in Node before the AI SDK's writer waits for `drain`: Node's
 * own default before version 22 (22 raised it to 64 KiB). A stalled client's stream stops
 * once this and the socket's kernel buffer are full, and every chunk the AI SDK works through
 * before that costs the sidecar's one thread and is kept by the SDK until the stream ends
 * (docs/crash.md#where-a-stalled-streams-time-goes): 64 KiB is about 900 UI chunks per
 * stalled stream, 16 KiB about 230.
 */
export const RESPONSE_HIGH_WATER_MARK = 16 * 1024;

/**
 * The sidecar's HTTP server: [`createRequestHandler`]'s routes on responses that buffer at
 * most [`RESPONSE_HIGH_WATER_MARK`] before their writer waits (the same options).
 */
export function createChatServer(options) {
  return http.createServer({ highWaterMark: RESPONSE_HIGH_WATER_MARK }, createRequestHandler(options));
}

/**
 * @param {object} options
 * @param {{streamChat: Function}} options.chat
 * @param {string} [options.token] when set, every request must carry `authorization: Bearer <token>`.
 * @param {(line: string) => void} options.log
 * @param {number} [options.clientStallMs] a chat response whose client took nothing this long
 *   is ended (docs/crash.md#a-bound-for-stalled-readers).
 * @param {number} [options.maxStreams] chat streams answered at once; more are refused with 503.
 * @param {ReturnType<typeof createStreamGate>} [options.gate] the count of streams in flight,
 *   shared with the `frames` wire (made from `maxStreams` when not given).
 */
export function createRequestHandler({ chat, token, log, clientStallMs = CLIENT_STALL_MS, maxStreams = MAX_STREAMS, gate = createStreamGate(maxStreams) }) {
  const isAuthorized = bearerCheck(token);

  return async function handle(req, res) {
    try {
      if (!isAuthorized(req.headers.authorization)) {
        sendError(res, 'unauthorized', 'missing or wrong bearer token');
        req.resume();
        return;
      }
      const { pathname } = new URL(req.url ?? '/', 'http://sidecar');
      if (pathname === '/health') {
        if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(req, res, 'GET');
        req.resume();
        sendJson(res, 200, { status: 'ok', backend: 'sidecar' });
      } else if (pathname === SIDECAR_MEMORY_PATH) {
        // V8's own figures, which the process's resident set cannot tell apart: heap that
        // live objects hold versus memory the allocator kept (docs/soak.md#the-samples).
        if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(req, res, 'GET');
        req.resume();
        sendJson(res, 200, { pid: process.pid, ...process.memoryUsage() });
      } else if (pathname === '/api/chat') {
        if (req.method !== 'POST') return methodNotAllowed(req, res, 'POST');
        await handleChat(req, res);
      } else {
        req.resume();
        sendError(res, 'not_found', `no route ${pathname}`);
      }
    } catch (error) {
      const requestId = req.headers[REQUEST_ID_HEADER] ?? '-';
      log(`request failed [request ${requestId}]: ${error?.name ?? 'Error'}: ${error?.message ?? error}`);
      if (!res.headersSent) sendError(res, 'internal', 'internal error in the sidecar');
      else res.destroy();
    }
  };

  async function handleChat(req, res) {
    // Every stream holds memory while it runs (1.5 MB each in napi, which runs the same chat
    // function, under 100 stalled readers): past the limit the answer is a 503 the client may
    // retry, not one more stream (docs/crash.md#a-bound-for-stalled-readers).
    if (!gate.tryEnter()) {
      req.resume();
      log(refusedLine(gate, req.headers[REQUEST_ID_HEADER]));
      sendError(res, 'unavailable', gate.refusal, { 'retry-after': '1' });
      return;
    }
    res.once('close', () => gate.leave());
    const text = await readBody(req, res);
    if (text === undefined) return;
    let body;
    try {
      body = JSON.parse(text);
    } catch (error) {
      sendError(res, 'invalid_request', `body is not valid JSON: ${error.message}`);
      return;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      sendError(res, 'invalid_request', 'body must be a JSON object with `messages`');
      return;
    }

    // The AI SDK does not cancel the provider request when the client goes away: we do.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    // A client that stops reading keeps its stream, and what the AI SDK holds for it, alive
    // for as long as the connection stays open: past the limit the stream ends here.
    endStalledResponse(res, clientStallMs, () => {
      log(stalledLine(clientStallMs, req.headers[REQUEST_ID_HEADER]));
      abort.abort();
      res.destroy();
    });

    let stream;
    try {
      // The id the Rust server gave the request (docs/architecture.md#request-id).
      stream = await chat.streamChat(body, abort.signal, { requestId: req.headers[REQUEST_ID_HEADER] });
    } catch (error) {
      if (error instanceof ChatInputError) {
        sendError(res, 'invalid_request', error.message);
        return;
      }
      throw error;
    }
    await pipeUIMessageStreamToResponse({ response: res, stream });
  }
}

/**
 * Calls `onStall` once when `res` has waited for `drain` for `limitMs`: a response the
 * client takes something of is never ended, however slow.
 */
export function endStalledResponse(res, limitMs, onStall) {
  let waitingSince;
  const check = () => {
    if (!res.writableNeedDrain) {
      waitingSince = undefined;
      return;
    }
    waitingSince ??= performance.now();
    if (performance.now() - waitingSince >= limitMs) {
      clearInterval(timer);
      onStall();
    }
  };
  // Checked four times per limit: the stream ends between one and 1.25 limits of stall.
  const timer = setInterval(check, Math.max(limitMs / 4, 1));
  timer.unref();
  res.on('drain', () => {
    waitingSince = undefined;
  });
  res.once('close', () => clearInterval(timer));
}

/** The body as text, or undefined once a 413 was sent (the rest is drained, not read). */
function readBody(req, res) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      // Drain instead of destroying: a client still writing would see a reset, not the 413.
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      sendError(res, 'payload_too_large', `body is over ${MAX_BODY_BYTES} bytes`);
      resolve(undefined);
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

function methodNotAllowed(req, res, allow) {
  req.resume();
  sendError(res, 'method_not_allowed', `${req.method} is not allowed here; use ${allow}`, { allow });
}

// Comparing fixed-length digests keeps the comparison constant-time whatever the input length.
function digest(value) {
  return createHash('sha256').update(value).digest();
}

/** `(authorization header) => boolean`: always true without a token. */
export function bearerCheck(token) {
  if (!token) return () => true;
  const expected = digest(token);
  return (header) => authorized(header, expected);
}

function authorized(header, expected) {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  const given = digest(match ? match[1] : '');
  return timingSafeEqual(given, expected) && match !== null;
}

function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(res, code, message, headers) {
  sendJson(res, ERROR_STATUS[code], { error: { code, message } }, headers);
}
