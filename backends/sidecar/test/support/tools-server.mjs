// A tiny stand-in for the Rust side's internal tool listener (docs/architecture.md, "Tool
// protocol"): `GET /internal/tools` and `POST /internal/tools/{name}`, on a Unix socket or on
// loopback with a bearer token. Every call is recorded.

import http from 'node:http';

export const TOOL_DEFINITIONS = [
  {
    name: 'get_spec',
    description: 'Get one spec by id',
    input_schema: {
      type: 'object',
      properties: { id: { type: 'string' } },
      required: ['id'],
      additionalProperties: false,
    },
  },
  {
    name: '__crash',
    description: 'Fault injection: the JS runtime dies',
    input_schema: { type: 'object', properties: {}, additionalProperties: false },
  },
];

/** @param {{socketPath?: string, token?: string}} options */
export async function startToolsServer({ socketPath, token } = {}) {
  const calls = [];
  /** The `x-request-id` each tool call carried, in order. */
  const requestIds = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const reply = (status, value) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (token && req.headers.authorization !== `Bearer ${token}`) {
        return reply(401, { error: { code: 'unauthorized', message: 'no' } });
      }
      if (req.method === 'GET' && req.url === '/internal/tools') {
        return reply(200, { tools: TOOL_DEFINITIONS });
      }
      const match = /^\/internal\/tools\/([^/]+)$/.exec(req.url);
      if (req.method !== 'POST' || !match) return reply(404, { error: { code: 'not_found', message: req.url } });
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      calls.push({ name: decodeURIComponent(match[1]), input });
      requestIds.push(req.headers['x-request-id']);
      if (match[1] === '__crash') return reply(200, { status: 'crash_runtime', message: 'crash requested' });
      if (input.id === 'spec-1') return reply(200, { status: 'ok', output: { id: 'spec-1', title: 'Chat sidecar' } });
      return reply(200, { status: 'error', message: `spec not found: ${input.id}` });
    });
  });
  const listening = socketPath ? { path: socketPath } : { host: '127.0.0.1', port: 0 };
  await new Promise((resolve) => server.listen(listening, resolve));
  return {
    env: socketPath
      ? { LEANSPEC_TOOLS_SOCKET: socketPath }
      : { LEANSPEC_TOOLS_URL: `http://127.0.0.1:${server.address().port}`, LEANSPEC_TOOLS_TOKEN: token ?? '' },
    calls,
    requestIds,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
