// The tool callback client: the Rust side may bind its tool listener after starting the
// sidecar, and a callback that fails mid-chat is a tool error, not a crash.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startStubProvider } from './support/stub-provider.mjs';
import { startToolsServer } from './support/tools-server.mjs';
import {
  chatBody,
  parseSse,
  privateTempDir,
  request,
  startSidecar,
  targetOf,
  SUITE_TIMEOUT_MS,
  waitForOutput,
} from './support/sidecar.mjs';

describe('tool callbacks', { timeout: SUITE_TIMEOUT_MS }, () => {
  let provider;
  let dir;
  const cleanup = [];

  before(async () => {
    provider = await startStubProvider();
    dir = privateTempDir();
  });

  after(async () => {
    for (const step of cleanup.reverse()) await step();
    await provider.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('waits for a tools listener that comes up after the sidecar started', async () => {
    const toolsSocket = path.join(dir, 'late-tools.sock');
    const pending = startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(dir, 'late.sock'),
      LEANSPEC_PROVIDER_URL: provider.url,
      LEANSPEC_TOOLS_SOCKET: toolsSocket,
    }, { waitReady: false });
    const sidecar = await pending;
    cleanup.push(() => sidecar.stop());
    await waitForOutput(sidecar, (o) => o.stderr.includes('not answering yet'));
    assert.equal(sidecar.output.stdout, '', 'not ready without tool definitions');

    const tools = await startToolsServer({ socketPath: toolsSocket });
    cleanup.push(() => tools.close());
    await waitForOutput(sidecar, (o) => o.stdout.includes('"event":"ready"'));
    assert.match(sidecar.output.stderr, /loaded 2 tool definitions/);
  });

  test('gives up with a clear error when no tools listener ever answers', async () => {
    const sidecar = await startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(dir, 'never.sock'),
      LEANSPEC_PROVIDER_URL: provider.url,
      LEANSPEC_TOOLS_URL: 'http://127.0.0.1:9',
      LEANSPEC_TOOLS_TOKEN: 't',
      LEANSPEC_TOOLS_WAIT_MS: '300',
    }, { waitReady: false });
    cleanup.push(() => sidecar.stop());
    assert.equal((await sidecar.exited).code, 1);
    assert.match(sidecar.output.stderr, /could not load tool definitions from http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/);
  });

  test('a callback that fails mid-chat becomes a tool error the model sees', async () => {
    const toolsSocket = path.join(dir, 'vanishing-tools.sock');
    const tools = await startToolsServer({ socketPath: toolsSocket });
    const sidecar = await startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(dir, 'vanishing.sock'),
      LEANSPEC_PROVIDER_URL: provider.url,
      LEANSPEC_TOOLS_SOCKET: toolsSocket,
    });
    cleanup.push(() => sidecar.stop());
    await tools.close(); // the Rust side went away after the definitions were loaded

    const answer = await request(targetOf(sidecar.ready.url), {
      method: 'POST',
      path: '/api/chat',
      body: chatBody('[[scenario:tool-single]]'),
    });
    const { chunks, done } = parseSse(answer.text);
    assert.ok(done);
    const error = chunks.find((c) => c.type === 'tool-output-error');
    assert.match(error.errorText, /^tool get_spec could not be called: tools endpoint unix:.* failed: .*(ENOENT|ECONNREFUSED)/);
    assert.equal(chunks.at(-1).type, 'finish', 'the chat itself completes');
    assert.equal(sidecar.child.exitCode, null, 'the sidecar is still running');
  });
});
