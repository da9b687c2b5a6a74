// The echo sidecar: the sidecar's protocol without the AI SDK, for measuring what the
// transport costs apart from what the AI SDK costs.
//
// It is started exactly like the real sidecar (same environment: LEANSPEC_CHAT_SOCKET, or
// LEANSPEC_CHAT_TRANSPORT=http + LEANSPEC_CHAT_TOKEN; LEANSPEC_PROVIDER_URL; OPENAI_API_KEY;
// LEANSPEC_PARENT_PID), prints the same ready line and serves the same two routes, but its
// `/api/chat` does the least a relay can: one streamed provider request with the last user
// message's text, each provider text chunk rewritten as one `text-delta` frame, no tools, no
// validation beyond JSON. Plain `node:http` on both sides, nothing bundled (the ready line's
// shape comes from the contract crate's generated module).
//
//   backend-unix --sidecar-entry backends/sidecar/bench/echo-sidecar.mjs ...
//
// The difference between a backend with this sidecar and the direct path (client → provider)
// is the socket hop plus Rust's and Node's minimal HTTP handling; the difference between the
// real sidecar and this one is the AI SDK's own processing.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';

import { readyLine } from '../../../contract/js/contract.mjs';

const env = process.env;
const log = (line) => process.stderr.write(`echo-sidecar[${process.pid}]: ${line}\n`);
const provider = new URL(`${env.LEANSPEC_PROVIDER_URL.replace(/\/$/, '')}/chat/completions`);
const token = env.LEANSPEC_CHAT_TOKEN ?? '';
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function authorized(header) {
  if (!token) return true;
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function frame(res, chunk) {
  res.write(`data: ${JSON.stringify(chunk)}\n\n`);
}

function lastUserText(body) {
  const user = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  return (user?.parts ?? []).filter((p) => p.type === 'text').map((p) => p.text).join('');
}

function chat(req, res, body) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-vercel-ai-ui-message-stream': 'v1',
    'x-accel-buffering': 'no',
  });
  frame(res, { type: 'start' });
  frame(res, { type: 'start-step' });
  frame(res, { type: 'text-start', id: '0' });
  const upstream = http.request(provider, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.OPENAI_API_KEY ?? ''}` },
  });
  const end = (error) => {
    if (res.writableEnded) return;
    if (error) frame(res, { type: 'error', errorText: String(error.message ?? error) });
    else {
      frame(res, { type: 'text-end', id: '0' });
      frame(res, { type: 'finish-step' });
      frame(res, { type: 'finish', finishReason: 'stop' });
    }
    res.end('data: [DONE]\n\n');
  };
  res.on('close', () => upstream.destroy());
  upstream.on('error', end);
  upstream.on('response', (answer) => {
    let pending = '';
    answer.setEncoding('utf8');
    answer.on('data', (text) => {
      pending += text;
      let cut;
      while ((cut = pending.indexOf('\n\n')) >= 0) {
        const data = pending.slice(0, cut).replace(/^data: ?/, '');
        pending = pending.slice(cut + 2);
        if (data === '[DONE]') continue;
        const delta = JSON.parse(data).choices?.[0]?.delta?.content;
        if (delta) frame(res, { type: 'text-delta', id: '0', delta });
      }
    });
    answer.on('end', () => end());
    answer.on('error', end);
  });
  upstream.end(
    JSON.stringify({
      model: env.LEANSPEC_MODEL || 'mock-gpt',
      stream: true,
      messages: [{ role: 'user', content: lastUserText(body) }],
    }),
  );
}

const server = http.createServer((req, res) => {
  if (!authorized(req.headers.authorization)) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"unauthorized","message":"missing or wrong bearer token"}}');
    return;
  }
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok","backend":"sidecar"}');
    return;
  }
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (part) => (text += part));
  req.on('end', () => chat(req, res, JSON.parse(text)));
});
server.keepAliveTimeout = 60_000;

function ready(url) {
  fs.writeSync(1, `${readyLine({ backend: 'sidecar', url, pid: process.pid })}\n`);
  log(`listening on ${url}`);
}

const parent = Number(env.LEANSPEC_PARENT_PID);
if (parent > 1) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 250).unref();
}
process.on('SIGTERM', () => process.exit(0));

if (env.LEANSPEC_CHAT_TRANSPORT === 'http') {
  server.listen({ host: '127.0.0.1', port: Number(env.LEANSPEC_CHAT_PORT || 0) }, () =>
    ready(`http://127.0.0.1:${server.address().port}`),
  );
} else {
  const socket = path.resolve(env.LEANSPEC_CHAT_SOCKET);
  fs.rmSync(socket, { force: true });
  const umask = process.umask(0o177);
  server.listen(socket, () => {
    process.umask(umask);
    ready(`unix:${socket}`);
  });
}
