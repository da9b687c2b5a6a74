// The chat function as the napi backend uses it: imported from the bundle, called in-process
// with its own `callTool`.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

import { startStubProvider } from './support/stub-provider.mjs';
import { TOOL_DEFINITIONS } from './support/tools-server.mjs';
import { chatBody, SUITE_TIMEOUT_MS } from './support/sidecar.mjs';

const CHAT_MODULE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  process.env.SIDECAR_ENTRY ? 'src/chat.mjs' : 'dist/chat.mjs',
);

describe('createChat', { timeout: SUITE_TIMEOUT_MS }, () => {
  let provider;
  let createChat;

  before(async () => {
    provider = await startStubProvider();
    ({ createChat } = await import(CHAT_MODULE));
  });

  after(() => provider.close());

  const collect = async (stream) => {
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  };

  test('calls the given callTool and streams UI chunks', async () => {
    const calls = [];
    const chat = createChat({
      providerUrl: provider.url,
      apiKey: 'sk-test',
      model: 'stub-model',
      toolDefinitions: TOOL_DEFINITIONS,
      callTool: async (name, input) => {
        calls.push({ name, input });
        return { status: 'ok', output: { title: 'from a direct call' } };
      },
    });
    const chunks = await collect(await chat.streamChat(chatBody('[[scenario:tool-single]]'), new AbortController().signal));
    assert.deepEqual(calls, [{ name: 'get_spec', input: { id: 'spec-1' } }]);
    assert.deepEqual(chunks.find((c) => c.type === 'tool-output-available').output, { title: 'from a direct call' });
    assert.equal(chunks.at(-1).type, 'finish');
  });

  test('a callTool that rejects becomes a tool error', async () => {
    const chat = createChat({
      providerUrl: provider.url,
      apiKey: 'sk-test',
      model: 'stub-model',
      toolDefinitions: TOOL_DEFINITIONS,
      callTool: async () => {
        throw new Error('bridge is down');
      },
    });
    const chunks = await collect(await chat.streamChat(chatBody('[[scenario:tool-single]]')));
    assert.equal(chunks.find((c) => c.type === 'tool-output-error').errorText, 'tool get_spec could not be called: bridge is down');
  });

  test('a tool call left without a result in the history does not break the next turn', async () => {
    const chat = createChat({ providerUrl: provider.url, apiKey: '', model: 'm', toolDefinitions: TOOL_DEFINITIONS, callTool: async () => ({}) });
    const body = {
      messages: [
        { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'Show spec-1' }] },
        { id: 'a1', role: 'assistant', parts: [{ type: 'tool-get_spec', toolCallId: 'c1', state: 'input-available', input: { id: 'spec-1' } }] },
        { id: 'u2', role: 'user', parts: [{ type: 'text', text: 'Never mind [[scenario:text]]' }] },
      ],
    };
    const chunks = await collect(await chat.streamChat(body));
    assert.ok(!chunks.some((c) => c.type === 'error'), JSON.stringify(chunks.filter((c) => c.type === 'error')));
    assert.equal(chunks.at(-1).type, 'finish');
    const sent = provider.requests.at(-1).body.messages;
    assert.ok(!sent.some((m) => m.role === 'tool' || m.tool_calls), 'the dangling call is not sent');
  });

  test('bad input is a rejected promise, never a synchronous throw', async () => {
    const chat = createChat({ providerUrl: provider.url, apiKey: '', model: 'm', toolDefinitions: [], callTool: async () => ({}) });
    for (const body of [undefined, null, 42, {}, { messages: 'no' }, { messages: [] }, { messages: [{ role: 'user', parts: 'x' }] }]) {
      let pending;
      assert.doesNotThrow(() => {
        pending = chat.streamChat(body);
      });
      await assert.rejects(pending, { name: 'ChatInputError' });
    }
  });

  test('cancelling the stream, without the signal, also stops the provider request', async () => {
    const chat = createChat({ providerUrl: provider.url, apiKey: '', model: 'm', toolDefinitions: [], callTool: async () => ({}) });
    const seen = provider.requests.length;
    const reader = (await chat.streamChat(chatBody('[[scenario:stall]]'))).getReader();
    for (let chunk = await reader.read(); chunk.value?.type !== 'text-delta'; chunk = await reader.read()) {
      assert.ok(!chunk.done, 'the stream began');
    }
    await reader.cancel();
    assert.equal(await provider.requests[seen].closedEarly, true);
  });

  test('an aborted request stops the provider request and ends the stream', async () => {
    const chat = createChat({ providerUrl: provider.url, apiKey: '', model: 'm', toolDefinitions: [], callTool: async () => ({}) });
    const abort = new AbortController();
    const seen = provider.requests.length;
    const stream = await chat.streamChat(chatBody('[[scenario:stall]]'), abort.signal);
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (chunk.type === 'text-delta') abort.abort();
    }
    assert.equal(await provider.requests[seen].closedEarly, true);
    assert.ok(!chunks.some((c) => c.type === 'error'), 'an abort is not reported as an error');
  });

  test('what a stream keeps grows by less than a copy of each chunk passed on', async () => {
    // A stream's reader that fell behind its client keeps the stream open; what the stream
    // holds per chunk already passed on is what a stalled client costs. The AI SDK keeps the
    // step's text (about 110 bytes per one-word chunk, measured); the replaying `streamText`
    // also kept each part for a second reader (about 270 bytes per chunk in all).
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    const heapUsed = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const chat = createChat({ providerUrl: provider.url, apiKey: '', model: 'm', toolDefinitions: TOOL_DEFINITIONS, callTool: async () => ({}) });
    const abort = new AbortController();
    const reader = (await chat.streamChat(chatBody('[[scenario:flood-words]]'), abort.signal)).getReader();
    const read = async (count) => {
      for (let i = 0; i < count; i += 1) assert.equal((await reader.read()).done, false);
    };
    // The first chunks warm up the code and the heap's own structures; the rest is per chunk.
    await read(WARM_UP_CHUNKS);
    const before = heapUsed();
    await read(MEASURED_CHUNKS);
    const perChunk = (heapUsed() - before) / MEASURED_CHUNKS;
    abort.abort();
    await reader.cancel().catch(() => {});
    assert.ok(perChunk < KEPT_BYTES_PER_CHUNK_LIMIT, `${perChunk.toFixed(0)} bytes kept per chunk passed on`);
  });
});

const WARM_UP_CHUNKS = 2_000;
const MEASURED_CHUNKS = 8_000;
/** Between the SDK's own text (about 110 bytes per chunk) and a kept copy of each part (270). */
const KEPT_BYTES_PER_CHUNK_LIMIT = 180;
