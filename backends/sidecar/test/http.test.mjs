// HTTP mode: loopback only, bearer token on every route, the port file, and tool callbacks
// over loopback with their own token.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startStubProvider } from './support/stub-provider.mjs';
import { startToolsServer } from './support/tools-server.mjs';
import { chatBody, parseSse, privateTempDir, request, startSidecar, targetOf, SUITE_TIMEOUT_MS } from './support/sidecar.mjs';

const TOKEN = 'chat-token-1d9f0c3b7a2e4c6d8f0a1b3c5d7e9f21';
const TOOLS_TOKEN = 'tools-token-5e7a9c1b3d5f7092a4c6e8f0b2d4f6a8';

describe('http mode', { timeout: SUITE_TIMEOUT_MS }, () => {
  let provider;
  let tools;
  let sidecar;
  let target;
  let portFile;
  let dir;

  before(async () => {
    dir = privateTempDir();
    portFile = path.join(dir, 'chat-port');
    provider = await startStubProvider();
    tools = await startToolsServer({ token: TOOLS_TOKEN });
    sidecar = await startSidecar({
      LEANSPEC_CHAT_TRANSPORT: 'http',
      LEANSPEC_CHAT_TOKEN: TOKEN,
      LEANSPEC_CHAT_PORT_FILE: portFile,
      LEANSPEC_PROVIDER_URL: provider.url,
      ...tools.env,
    });
    target = targetOf(sidecar.ready.url);
  });

  after(async () => {
    await sidecar?.stop();
    await tools?.close();
    await provider?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('listens on 127.0.0.1 only, and writes its port to the port file', async () => {
    assert.match(sidecar.ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(fs.readFileSync(portFile, 'utf8'), String(target.port));
    assert.deepEqual(fs.readdirSync(dir), ['chat-port'], 'no temporary file left behind');
    // Other loopback addresses reach the same machine but not a socket bound to 127.0.0.1.
    for (const host of ['127.0.0.2', '::1']) {
      const code = await connectError(host, target.port);
      assert.equal(code, 'ECONNREFUSED', `connecting via ${host}`);
    }
  });

  test('refuses a missing or wrong token with 401, on every route', async () => {
    const attempts = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of attempts) {
      for (const [method, urlPath] of [['GET', '/health'], ['GET', '/health/memory'], ['POST', '/api/chat'], ['GET', '/nope']]) {
        const body = method === 'POST' ? chatBody('hi') : undefined;
        const answer = await request(target, { method, path: urlPath, headers, body });
        assert.equal(answer.status, 401, `${method} ${urlPath} with ${JSON.stringify(headers)}`);
        assert.equal(JSON.parse(answer.text).error.code, 'unauthorized');
      }
    }
    assert.equal(provider.requests.length, 0, 'nothing reached the provider');
  });

  test('serves health and chat with the right token; tools are called back with theirs', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const health = await request(target, { path: '/health', headers });
    assert.deepEqual(JSON.parse(health.text), { status: 'ok', backend: 'sidecar' });
    const memory = JSON.parse((await request(target, { path: '/health/memory', headers })).text);
    for (const key of ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers']) {
      assert.ok(Number.isInteger(memory[key]) && memory[key] > 0, `${key}: ${memory[key]}`);
    }
    assert.ok(memory.heapUsed <= memory.heapTotal);
    assert.equal(memory.pid, sidecar.ready.pid);
    const answer = await request(target, { method: 'POST', path: '/api/chat', headers, body: chatBody('[[scenario:tool-single]]') });
    const { chunks, done } = parseSse(answer.text);
    assert.ok(done);
    assert.deepEqual(chunks.find((c) => c.type === 'tool-output-available').output, { id: 'spec-1', title: 'Chat sidecar' });
    assert.deepEqual(tools.calls, [{ name: 'get_spec', input: { id: 'spec-1' } }]);
  });
});

describe('http mode configuration', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('refuses to start without a token', async () => {
    const sidecar = await startSidecar(
      { LEANSPEC_CHAT_TRANSPORT: 'http', LEANSPEC_PROVIDER_URL: 'http://127.0.0.1:9/v1', LEANSPEC_NO_TOOLS: '1' },
      { waitReady: false },
    );
    assert.equal((await sidecar.exited).code, 1);
    assert.match(sidecar.output.stderr, /http mode needs LEANSPEC_CHAT_TOKEN/);
    assert.equal(sidecar.output.stdout, '');
  });

  test('listens on the address LEANSPEC_CHAT_HOST names, and refuses one that is not an address', async () => {
    const sidecar = await startSidecar({
      LEANSPEC_CHAT_TRANSPORT: 'http',
      LEANSPEC_CHAT_TOKEN: TOKEN,
      LEANSPEC_CHAT_HOST: '127.0.0.2',
      LEANSPEC_PROVIDER_URL: 'http://127.0.0.1:9/v1',
      LEANSPEC_NO_TOOLS: '1',
    });
    try {
      assert.match(sidecar.ready.url, /^http:\/\/127\.0\.0\.2:\d+$/);
      const { port } = targetOf(sidecar.ready.url);
      assert.equal(await connectError('127.0.0.1', port), 'ECONNREFUSED', 'not on 127.0.0.1 as well');
    } finally {
      await sidecar.stop();
    }
    const bad = await startSidecar(
      {
        LEANSPEC_CHAT_TRANSPORT: 'http',
        LEANSPEC_CHAT_TOKEN: TOKEN,
        LEANSPEC_CHAT_HOST: 'sidecar.example',
        LEANSPEC_PROVIDER_URL: 'http://127.0.0.1:9/v1',
        LEANSPEC_NO_TOOLS: '1',
      },
      { waitReady: false },
    );
    assert.equal((await bad.exited).code, 1);
    assert.match(bad.output.stderr, /LEANSPEC_CHAT_HOST must be an IP address/);
  });

  test('refuses to start when the tools endpoint rejects its token', async () => {
    const tools = await startToolsServer({ token: TOOLS_TOKEN });
    try {
      const sidecar = await startSidecar(
        {
          LEANSPEC_CHAT_TRANSPORT: 'http',
          LEANSPEC_CHAT_TOKEN: TOKEN,
          LEANSPEC_PROVIDER_URL: 'http://127.0.0.1:9/v1',
          ...tools.env,
          LEANSPEC_TOOLS_TOKEN: 'not-the-token',
        },
        { waitReady: false },
      );
      assert.equal((await sidecar.exited).code, 1);
      assert.match(sidecar.output.stderr, /refused the credential \(401\)/);
      assert.ok(!sidecar.output.stderr.includes('not-the-token'), 'the token is not logged');
    } finally {
      await tools.close();
    }
  });
});

function connectError(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error) => resolve(error.code));
  });
}
