// The callback client: how the sidecar reaches the tools, which live on the Rust side.
//
// Unix mode: the Rust server's internal Unix socket (`LEANSPEC_TOOLS_SOCKET`, protected by file
// permissions). HTTP mode: its loopback listener (`LEANSPEC_TOOLS_URL`) with the per-launch
// bearer token (`LEANSPEC_TOOLS_TOKEN`). Protocol: docs/architecture.md, "Tool protocol".

import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { REQUEST_ID_HEADER, TOOLS_WAIT_MS } from '../../../contract/js/contract.mjs';

/** A tool call longer than this becomes a tool error rather than a hung chat. */
export const TOOL_CALL_TIMEOUT_MS = 30_000;
const STARTUP_RETRY_FIRST_MS = 20;
const STARTUP_RETRY_MAX_MS = 250;
/** Tool answers are small JSON documents; anything bigger is a bug on the other side. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export class ToolsClientError extends Error {
  constructor(message, { retryable = false, cause } = {}) {
    super(message, { cause });
    this.name = 'ToolsClientError';
    this.retryable = retryable;
  }
}

/**
 * @param {{socketPath?: string, url?: string, token?: string}} target exactly one of socketPath/url.
 */
export function createToolsClient({ socketPath, url, token }) {
  if (!socketPath && !url) {
    throw new ToolsClientError('set LEANSPEC_TOOLS_SOCKET or LEANSPEC_TOOLS_URL: where the tools are');
  }
  const base = url ? new URL(url) : null;
  if (base && base.protocol !== 'http:') {
    throw new ToolsClientError(`LEANSPEC_TOOLS_URL must be an http:// URL, got ${base.protocol}`);
  }
  const prefix = base ? base.pathname.replace(/\/$/, '') : '';
  const where = socketPath ? `unix:${socketPath}` : base.origin;
  // One keep-alive agent: every tool call reuses a warm connection.
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 16 });

  function request(method, path, body, { abortSignal, requestId, timeoutMs = TOOL_CALL_TIMEOUT_MS } = {}) {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (token) headers.authorization = `Bearer ${token}`;
    // The chat request that calls the tool, so the Rust side's log names it too.
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    const target = socketPath
      ? { socketPath, path }
      : { host: base.hostname, port: base.port || 80, path: prefix + path };

    return new Promise((resolve, reject) => {
      const req = http.request({ ...target, method, headers, agent, signal: abortSignal });
      req.setTimeout(timeoutMs, () =>
        req.destroy(new ToolsClientError(`no answer from ${where} within ${timeoutMs / 1000} s`)),
      );
      req.on('error', (error) => reject(asClientError(error, where)));
      req.on('response', (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (chunk) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new ToolsClientError(`answer from ${where}${path} is over ${MAX_ANSWER_BYTES} bytes`));
          } else {
            chunks.push(chunk);
          }
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(statusError(res.statusCode, method, path, where));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new ToolsClientError(`${method} ${path} on ${where} answered with invalid JSON`));
          }
        });
        res.on('error', (error) => reject(asClientError(error, where)));
      });
      req.end(payload);
    });
  }

  return {
    where,
    /** `GET /internal/tools` → the tool definitions. */
    async listTools({ timeoutMs } = {}) {
      const list = await request('GET', '/internal/tools', undefined, { timeoutMs });
      if (!Array.isArray(list?.tools)) {
        throw new ToolsClientError(`GET /internal/tools on ${where} did not answer {"tools":[...]}`);
      }
      return list.tools;
    },
    /** `POST /internal/tools/{name}` → a ToolOutcome. Rejects when the callback itself fails. */
    callTool(name, input, { abortSignal, requestId } = {}) {
      return request('POST', `/internal/tools/${encodeURIComponent(name)}`, input ?? {}, { abortSignal, requestId });
    },
    close() {
      agent.destroy();
    },
  };
}

/**
 * Fetches the tool definitions, retrying briefly while the Rust side is not listening yet
 * (it may start the sidecar before or after binding its internal listener).
 */
export async function waitForToolDefinitions(client, { waitMs = TOOLS_WAIT_MS, log = () => {} } = {}) {
  const deadline = Date.now() + waitMs;
  let delay = STARTUP_RETRY_FIRST_MS;
  let logged = false;
  for (;;) {
    try {
      // A listener that accepts but never answers must not hold startup past the deadline.
      return await client.listTools({ timeoutMs: Math.max(deadline - Date.now(), 1) });
    } catch (error) {
      if (!error.retryable || Date.now() + delay > deadline) {
        throw new ToolsClientError(
          `could not load tool definitions from ${client.where}: ${error.message}`,
          { cause: error },
        );
      }
      if (!logged) {
        log(`tools endpoint ${client.where} not answering yet (${error.message}); retrying for up to ${waitMs / 1000} s`);
        logged = true;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, STARTUP_RETRY_MAX_MS);
    }
  }
}

const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE']);

function asClientError(error, where) {
  if (error instanceof ToolsClientError) return error;
  if (error?.name === 'AbortError') return error;
  const code = error?.code ? ` (${error.code})` : '';
  return new ToolsClientError(`tools endpoint ${where} failed: ${error?.message ?? error}${code}`, {
    retryable: RETRYABLE_CODES.has(error?.code),
    cause: error,
  });
}

function statusError(status, method, path, where) {
  if (status === 401) {
    return new ToolsClientError(
      `${where} refused the credential (401): LEANSPEC_TOOLS_TOKEN must be the token the server was started with`,
    );
  }
  if (status === 404 && path.startsWith('/internal/tools/')) {
    return new ToolsClientError(`${where} does not know the tool ${decodeURIComponent(path.slice(16))} (404)`);
  }
  // 503 while the Rust side is still starting is worth waiting for.
  return new ToolsClientError(`${method} ${path} on ${where} answered HTTP ${status}`, {
    retryable: status === 503,
  });
}
