// The chat route end to end: sidecar (child process, Unix socket) → stub OpenAI provider, with
// tool callbacks to a stub of the Rust side's internal listener.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startStubProvider } from './support/stub-provider.mjs';
import { startToolsServer } from './support/tools-server.mjs';
import {
  CANARY_KEY,
  chatBody,
  parseSse,
  privateTempDir,
  request,
  startSidecar,
  SUITE_TIMEOUT_MS,
  targetOf,
  waitForOutput,
} from './support/sidecar.mjs';

describe('POST /api/chat', { timeout: SUITE_TIMEOUT_MS }, () => {
  let provider;
  let tools;
  let sidecar;
  let target;
  let dir;

  before(async () => {
    dir = privateTempDir();
    provider = await startStubProvider();
    tools = await startToolsServer({ socketPath: path.join(dir, 'tools.sock') });
    sidecar = await startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(dir, 'chat.sock'),
      LEANSPEC_PROVIDER_URL: provider.url,
      LEANSPEC_MODEL: 'stub-model',
      // One attempt per request keeps the failure cases fast; retries have their own test.
      LEANSPEC_MAX_RETRIES: '0',
      ...tools.env,
    });
    target = targetOf(sidecar.ready.url);
  });

  after(async () => {
    await sidecar?.stop();
    await tools?.close();
    await provider?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const chat = (text) => request(target, { method: 'POST', path: '/api/chat', body: chatBody(text) });

  test('a text answer streams as UI message chunks with the AI SDK headers', async () => {
    const answer = await chat('Say hello [[scenario:text]]');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-type'], 'text/event-stream');
    assert.equal(answer.headers['x-vercel-ai-ui-message-stream'], 'v1');
    assert.equal(answer.headers['x-accel-buffering'], 'no');
    assert.equal(answer.headers['cache-control'], 'no-cache');
    const { chunks, done } = parseSse(answer.text);
    assert.ok(done, 'ends with [DONE]');
    assert.deepEqual(
      chunks.map((c) => c.type),
      ['start', 'start-step', 'text-start', 'text-delta', 'text-delta', 'text-delta', 'text-delta', 'text-end', 'finish-step', 'finish'],
    );
    assert.deepEqual(chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta), ['Hello', ', ', 'world', '!']);
    const sent = provider.requests.at(-1);
    assert.equal(sent.body.model, 'stub-model');
    assert.equal(sent.body.stream, true);
    assert.equal(sent.headers.authorization, `Bearer ${CANARY_KEY}`);
    assert.deepEqual(sent.body.tools.map((t) => t.function.name), ['get_spec', '__crash']);
  });

  test('a tool call reaches the callback server and its output reaches client and model', async () => {
    const before = tools.calls.length;
    const { chunks, done } = parseSse((await chat('Show spec-1 [[scenario:tool-single]]')).text);
    assert.ok(done);
    assert.deepEqual(tools.calls.slice(before), [{ name: 'get_spec', input: { id: 'spec-1' } }]);
    const output = chunks.find((c) => c.type === 'tool-output-available');
    assert.deepEqual(output.output, { id: 'spec-1', title: 'Chat sidecar' });
    const text = chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta).join('');
    assert.match(text, /Chat sidecar/, 'the second step quotes the tool result');
    assert.equal(chunks.filter((c) => c.type === 'start-step').length, 2);
    assert.equal(chunks.at(-1).type, 'finish');
  });

  test('a tool error becomes tool-output-error with its message, which the model sees', async () => {
    const { chunks } = parseSse((await chat('Show it [[scenario:tool-error]]')).text);
    const error = chunks.find((c) => c.type === 'tool-output-error');
    assert.equal(error.errorText, 'spec not found: missing-spec');
    const text = chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta).join('');
    // @ai-sdk/openai@4 sends a tool error to the model as `{"error": text}`.
    assert.equal(text, 'Tool said: {"error":"spec not found: missing-spec"}');
    assert.equal(chunks.at(-1).type, 'finish');
  });

  for (const [scenario, errorText, toolName] of [
    ['unknown-tool', 'unknown tool: no_such_tool', 'no_such_tool'],
    ['bad-args', 'invalid input for tool get_spec', 'get_spec'],
  ]) {
    test(`an invalid tool call (${scenario}) is reported as tool-input-error alone, and logged`, async () => {
      const calls = tools.calls.length;
      const requestId = `req-refused-${scenario}`;
      const answer = await request(target, {
        method: 'POST',
        path: '/api/chat',
        body: chatBody(`Go [[scenario:${scenario}]]`),
        headers: { 'x-request-id': requestId },
      });
      const { chunks, done } = parseSse(answer.text);
      assert.ok(done);
      assert.equal(tools.calls.length, calls, 'no callback for an invalid call');
      assert.equal(chunks.find((c) => c.type === 'tool-input-error').errorText, errorText);
      // ai@6 repeated it as a tool-output-error; ai@7 does not.
      assert.equal(chunks.find((c) => c.type === 'tool-output-error'), undefined);
      assert.equal(chunks.at(-1).type, 'finish', 'the model gets the error and answers');
      await waitForOutput(sidecar, (output) => output.stderr.includes(`[request ${requestId}]`));
      const line = sidecar.output.stderr.split('\n').find((l) => l.includes(`[request ${requestId}]`));
      assert.match(line, new RegExp(`tool call ${toolName} refused`));
      assert.match(line, / at \S+\.m?js:\d+:\d+/, 'the refusal names the file and line that raised it');
    });
  }

  for (const [scenario, errorText] of [
    ['http-500', 'provider returned HTTP 500'],
    ['truncated', 'provider stream ended unexpectedly'],
    ['malformed', 'provider sent a malformed chunk'],
  ]) {
    test(`upstream failure ${scenario} ends with an error chunk and [DONE]`, async () => {
      const answer = await chat(`Hi [[scenario:${scenario}]]`);
      assert.equal(answer.status, 200);
      const { chunks, done } = parseSse(answer.text);
      assert.ok(done, 'ends with [DONE]');
      assert.deepEqual(chunks.at(-1), { type: 'error', errorText }, 'the error chunk is the last one');
      assert.equal(chunks.filter((c) => c.type === 'error').length, 1);
      assert.ok(!answer.text.includes(' and more'), 'nothing after the failure is forwarded');
    });
  }

  test('the request id reaches the tool callback and the failure line, which says where it failed', async () => {
    const headers = { 'x-request-id': 'req-tool-1' };
    const body = chatBody('Show spec-1 [[scenario:tool-single]]');
    await request(target, { method: 'POST', path: '/api/chat', body, headers });
    assert.equal(tools.requestIds.at(-1), 'req-tool-1');

    const failing = { method: 'POST', path: '/api/chat', body: chatBody('Hi [[scenario:http-500]]') };
    await request(target, { ...failing, headers: { 'x-request-id': 'req-500-1' } });
    await waitForOutput(sidecar, (output) => output.stderr.includes('[request req-500-1]'));
    const line = sidecar.output.stderr.split('\n').find((l) => l.includes('[request req-500-1]'));
    assert.match(line, /chat stream failed/);
    assert.match(line, / at \S+\.m?js:\d+:\d+/, 'the first frame of the error names a file and line');
  });

  test('the API key appears in no output, even when the provider quotes it back', async () => {
    const answer = await chat('Hi [[scenario:echo-key-401]]');
    const { chunks } = parseSse(answer.text);
    assert.deepEqual(chunks.filter((c) => c.type === 'error'), [{ type: 'error', errorText: 'provider returned HTTP 401' }]);
    assert.equal(provider.requests.at(-1).headers.authorization, `Bearer ${CANARY_KEY}`, 'the key was sent');
    for (const text of [answer.text, sidecar.output.stdout, sidecar.output.stderr]) {
      assert.ok(!text.includes(CANARY_KEY), 'canary key leaked');
      assert.ok(!text.includes(CANARY_KEY.slice(0, 12)), 'canary key prefix leaked');
    }
  });

  test('a client that goes away cancels the provider request', async () => {
    const seen = provider.requests.length;
    await new Promise((resolve, reject) => {
      const req = http.request({ ...target, method: 'POST', path: '/api/chat', headers: { 'content-type': 'application/json' } });
      req.on('error', () => {}); // destroying our own request is the point
      req.on('response', (res) => {
        res.on('data', (chunk) => {
          // The provider has started answering: hang up now.
          if (String(chunk).includes('waiting')) {
            req.destroy();
            resolve();
          }
        });
        res.on('end', () => reject(new Error('stream ended before the client hung up')));
      });
      req.end(JSON.stringify(chatBody('Wait [[scenario:stall]]')));
    });
    const record = provider.requests[seen];
    assert.equal(await record.closedEarly, true);
  });

  test('health, and the JSON errors for bad requests', async () => {
    const health = await request(target, { path: '/health' });
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.text), { status: 'ok', backend: 'sidecar' });

    const cases = [
      [{ method: 'POST', path: '/api/chat', body: '{"messages": [' }, 400, 'invalid_request'],
      [{ method: 'POST', path: '/api/chat', body: '[]' }, 400, 'invalid_request'],
      [{ method: 'POST', path: '/api/chat', body: { id: 'x' } }, 400, 'invalid_request'],
      [{ method: 'POST', path: '/api/chat', body: { messages: [{ role: 'user', parts: 'nope' }] } }, 400, 'invalid_request'],
      [{ method: 'POST', path: '/api/chat', body: 'x'.repeat(1024 * 1024 + 1) }, 413, 'payload_too_large'],
      [{ path: '/api/chat' }, 405, 'method_not_allowed'],
      [{ method: 'POST', path: '/health' }, 405, 'method_not_allowed'],
      [{ path: '/nope' }, 404, 'not_found'],
    ];
    for (const [options, status, code] of cases) {
      const answer = await request(target, options);
      assert.equal(answer.status, status, `${options.method ?? 'GET'} ${options.path}`);
      assert.match(answer.headers['content-type'], /^application\/json/);
      const body = JSON.parse(answer.text);
      assert.equal(body.error.code, code);
      assert.equal(typeof body.error.message, 'string');
    }
  });

  test('a crash_runtime outcome kills the runtime, as an uncaught exception does', async () => {
    // Last in this suite: it ends the sidecar.
    await chat('Crash [[scenario:crash-tool]]').catch(() => {});
    const { code } = await sidecar.exited;
    assert.notEqual(code, 0);
    assert.match(sidecar.output.stderr, /runtime crash requested by tool: crash requested/);
  });
});

describe('provider retries', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('a 429 is retried with the AI SDK default and the answer completes', async () => {
    const dir = privateTempDir();
    const provider = await startStubProvider();
    const tools = await startToolsServer({ socketPath: path.join(dir, 'tools.sock') });
    const sidecar = await startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(dir, 'chat.sock'),
      LEANSPEC_PROVIDER_URL: provider.url,
      ...tools.env,
    });
    try {
      const answer = await request(targetOf(sidecar.ready.url), {
        method: 'POST',
        path: '/api/chat',
        body: chatBody('Hi [[scenario:http-429-once]]'),
      });
      const { chunks, done } = parseSse(answer.text);
      assert.ok(done);
      assert.equal(provider.requests.length, 2, 'one refused attempt, one retry');
      assert.deepEqual(chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta), ['after retry']);
      assert.equal(chunks.at(-1).type, 'finish');
    } finally {
      await sidecar.stop();
      await tools.close();
      await provider.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a client that stops reading', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('loses its stream after the stall limit, and its provider request ends', async () => {
    const dir = privateTempDir();
    const provider = await startStubProvider();
    const sidecar = await startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(dir, 'chat.sock'),
      LEANSPEC_PROVIDER_URL: provider.url,
      LEANSPEC_NO_TOOLS: '1',
      LEANSPEC_CLIENT_STALL_MS: '200',
    });
    try {
      // The provider sends without end; the client reads the first bytes, then stops reading
      // and keeps the connection.
      const response = await new Promise((resolve, reject) => {
        const req = http.request({
          ...targetOf(sidecar.ready.url),
          method: 'POST',
          path: '/api/chat',
          headers: { 'content-type': 'application/json' },
        });
        req.on('error', reject);
        req.on('response', (res) => res.once('data', () => resolve(res.pause())));
        req.end(JSON.stringify(chatBody('Go [[scenario:flood]]')));
      });
      await waitForOutput(sidecar, (o) => /client took nothing for 200 ms: stream ended/.test(o.stderr));
      assert.equal(await provider.requests[0].closedEarly, true, 'the provider request was aborted');
      // Reading again, the client finds its stream cut, not completed.
      const complete = new Promise((resolve) => response.on('close', () => resolve(response.complete)));
      response.resume();
      assert.equal(await complete, false);
    } finally {
      await sidecar.stop();
      await provider.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a sidecar at its stream limit', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('refuses one more stream with a 503 to retry, and takes it once a stream ended', async () => {
    const dir = privateTempDir();
    const provider = await startStubProvider();
    const sidecar = await startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(dir, 'chat.sock'),
      LEANSPEC_PROVIDER_URL: provider.url,
      LEANSPEC_NO_TOOLS: '1',
      LEANSPEC_MAX_STREAMS: '1',
    });
    const target = targetOf(sidecar.ready.url);
    try {
      // One stream that the provider never finishes takes the only place.
      const held = http.request({ ...target, method: 'POST', path: '/api/chat', headers: { 'content-type': 'application/json' } });
      held.on('error', () => {}); // destroying it below is the point
      await new Promise((resolve) => {
        // Once the provider's first words arrived, the provider has the request.
        held.on('response', (res) => res.on('data', (chunk) => String(chunk).includes('waiting') && resolve()));
        held.end(JSON.stringify(chatBody('Wait [[scenario:stall]]')));
      });
      const refused = await request(target, { method: 'POST', path: '/api/chat', headers: { 'x-request-id': 'req-refused-1' }, body: chatBody('Hi') });
      assert.equal(refused.status, 503);
      await waitForOutput(sidecar, (o) => /refused a chat at the limit of 1 streams in flight: answered 503 \[request req-refused-1\]/.test(o.stderr));
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(JSON.parse(refused.text).error.code, 'unavailable');
      assert.match(JSON.parse(refused.text).error.message, /at its limit of 1 streams in flight/);
      assert.equal(provider.requests.length, 1, 'the refused chat never reached the provider');

      held.destroy();
      assert.equal(await provider.requests[0].closedEarly, true);
      const answer = await request(target, { method: 'POST', path: '/api/chat', body: chatBody('Hi') });
      assert.equal(answer.status, 200);
      assert.ok(parseSse(answer.text).done);
    } finally {
      await sidecar.stop();
      await provider.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
