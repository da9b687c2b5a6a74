// The frames wire's chunk reader (src/ui-chunks.mjs) against the UI stream it replaces: for
// every kind of answer the chunks must be the ones `streamChat` (the SDK's toUIMessageStream
// and the end-at-first-error rule) gives, and it must end the provider request the same ways.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startStubProvider } from './support/stub-provider.mjs';
import { TOOL_DEFINITIONS } from './support/tools-server.mjs';
import { chatBody, SUITE_TIMEOUT_MS } from './support/sidecar.mjs';

const CHAT_MODULE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  process.env.SIDECAR_ENTRY ? 'src/chat.mjs' : 'dist/chat.mjs',
);

/** Text, tools (ok, failing, unknown, garbled), a malformed provider chunk, a cut body, a refusal. */
const SCENARIOS = ['text', 'long', 'tool-single', 'tool-error', 'unknown-tool', 'bad-args', 'malformed', 'truncated', 'http-500'];

/**
 * The SDK draws a fresh random id for some text parts on each request: each distinct `id` becomes
 * the order of its first appearance, so two answers compare by their shape and content.
 */
function numberedIds(chunks) {
  const ids = new Map();
  return chunks.map((chunk) => {
    if (chunk.id === undefined) return chunk;
    if (!ids.has(chunk.id)) ids.set(chunk.id, `id-${ids.size}`);
    return { ...chunk, id: ids.get(chunk.id) };
  });
}

describe('the frames chunk reader', { timeout: SUITE_TIMEOUT_MS }, () => {
  let provider;
  let chat;
  let log;

  before(async () => {
    provider = await startStubProvider();
    const { createChat } = await import(CHAT_MODULE);
    log = [];
    chat = createChat({
      providerUrl: provider.url,
      apiKey: '',
      model: 'stub-model',
      toolDefinitions: TOOL_DEFINITIONS,
      // A refusal is answered at once, so the test does not wait for the SDK's backoff.
      maxRetries: 0,
      callTool: async (name, input) =>
        input?.id === 'spec-1' ? { status: 'ok', output: { title: 'Spec one' } } : { status: 'error', message: `no spec ${input?.id}` },
      log: (line) => log.push(line),
    });
  });

  after(() => provider.close());

  const drain = async (reader) => {
    const chunks = [];
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
    return chunks;
  };

  for (const scenario of SCENARIOS) {
    test(`${scenario}: the same chunks as the UI stream`, async () => {
      const body = () => chatBody(`[[scenario:${scenario}]]`);
      const expected = await drain((await chat.streamChat(body())).getReader());
      const got = await drain(await chat.readChatChunks(body()));
      assert.ok(expected.length > 0);
      assert.deepEqual(numberedIds(got), numberedIds(expected));
    });
  }

  test('the first error chunk is the last one, and a broken body becomes one', async () => {
    const malformed = await drain(await chat.readChatChunks(chatBody('[[scenario:malformed]]')));
    assert.equal(malformed.at(-1).type, 'error');
    assert.equal(malformed.filter((c) => c.type === 'error').length, 1);
    const truncated = await drain(await chat.readChatChunks(chatBody('[[scenario:truncated]]')));
    assert.equal(truncated.at(-1).type, 'error');
  });

  test('cancelling the reader stops the provider request', async () => {
    const seen = provider.requests.length;
    const reader = await chat.readChatChunks(chatBody('[[scenario:stall]]'));
    for (let next = await reader.read(); next.value?.type !== 'text-delta'; next = await reader.read()) {
      assert.ok(!next.done, 'the stream began');
    }
    await reader.cancel();
    assert.equal(await provider.requests[seen].closedEarly, true);
    assert.equal((await reader.read()).done, true);
  });

  test('an aborted request stops the provider request and ends without an error chunk', async () => {
    const abort = new AbortController();
    const seen = provider.requests.length;
    const reader = await chat.readChatChunks(chatBody('[[scenario:stall]]'), abort.signal);
    const chunks = [];
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      chunks.push(next.value);
      if (next.value.type === 'text-delta') abort.abort();
    }
    assert.equal(await provider.requests[seen].closedEarly, true);
    assert.ok(!chunks.some((c) => c.type === 'error'), 'an abort is not reported as an error');
  });

  test('bad input is refused as the UI stream refuses it', async () => {
    await assert.rejects(chat.readChatChunks({ messages: [] }), { name: 'ChatInputError' });
  });
});
