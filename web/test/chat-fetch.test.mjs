// The page's fetch against a real HTTP server: each failure a backend can cause becomes a
// sentence, and a Stop stays an abort.

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { ChatRequestError, createChatFetch, retryAfterSeconds } from '../src/chat-fetch.js';

/** Serves `handler` on a free loopback port for the length of `body`. */
async function withServer(handler, body) {
  const server = http.createServer(handler);
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  try {
    return await body(`http://127.0.0.1:${server.address().port}`);
  } finally {
    server.closeAllConnections();
    await new Promise(resolve => server.close(resolve));
  }
}

const chatFetch = createChatFetch();

test('an HTTP error becomes its message, its status and when to retry', async () => {
  await withServer(
    (req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ error: { code: 'rate_limited', message: 'rate limit exceeded; retry in 7 s' } }));
    },
    async url => {
      const error = await chatFetch(`${url}/api/chat`, { method: 'POST' }).catch(e => e);
      assert.ok(error instanceof ChatRequestError);
      assert.equal(error.kind, 'http');
      assert.equal(error.status, 429);
      assert.equal(error.retryAfterS, 7);
      assert.equal(error.message, 'The chat server answered 429 Too Many Requests: rate limit exceeded; retry in 7 s. Try again in 7 s.');
    },
  );
});

test('an error body that is not JSON is quoted as it is', async () => {
  await withServer(
    (req, res) => res.writeHead(502).end('bad gateway!'),
    async url => {
      const error = await chatFetch(url).catch(e => e);
      assert.equal(error.message, 'The chat server answered 502 Bad Gateway: bad gateway!');
    },
  );
});

test('a server that is not there is unreachable', async () => {
  const url = await withServer((req, res) => res.end(), async url => url);
  const error = await chatFetch(url).catch(e => e);
  assert.equal(error.kind, 'unreachable');
  assert.match(error.message, /Cannot reach the chat server/);
});

test('a stream cut mid-answer fails the read with a sentence; a good stream reads whole', async () => {
  await withServer(
    (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"type":"start"}\n\n');
      if (req.url === '/cut') setTimeout(() => res.destroy(), 20);
      else res.end('data: [DONE]\n\n');
    },
    async url => {
      const whole = await (await chatFetch(`${url}/whole`)).text();
      assert.equal(whole, 'data: {"type":"start"}\n\ndata: [DONE]\n\n');
      const response = await chatFetch(`${url}/cut`);
      const error = await response.text().catch(e => e);
      assert.equal(error.kind, 'cut');
      assert.match(error.message, /connection to the chat server was lost/);
    },
  );
});

test('a Stop is an abort, not an error the page explains', async () => {
  await withServer(
    (req, res) => res.writeHead(200).write('data: {"type":"start"}\n\n'),
    async url => {
      const controller = new AbortController();
      const response = await chatFetch(url, { signal: controller.signal });
      const reader = response.body.getReader();
      await reader.read();
      controller.abort();
      const error = await reader.read().catch(e => e);
      assert.equal(error.name, 'AbortError');
      const early = new AbortController();
      early.abort();
      assert.equal((await chatFetch(url, { signal: early.signal }).catch(e => e)).name, 'AbortError');
    },
  );
});

test('Retry-After is read as seconds or as a date', () => {
  assert.equal(retryAfterSeconds('12'), 12);
  assert.equal(retryAfterSeconds(null), undefined);
  assert.equal(retryAfterSeconds('soon'), undefined);
  assert.equal(retryAfterSeconds(new Date(Date.now() - 5000).toUTCString()), 0);
});
