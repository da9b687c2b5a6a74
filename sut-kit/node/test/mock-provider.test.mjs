// The real AI SDK (ai@7 `streamText` with @ai-sdk/openai's chat model) against the mock provider:
// every non-fault scenario must complete and deliver what the scenario promises. This proves the
// mock speaks the protocol real clients speak. Needs `cargo build -p mock-provider` first
// (or MOCK_PROVIDER_BIN); run with `npm test --prefix sut-kit/node`.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-script.mjs';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText } from 'ai';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { FAKE_SPECS, fakeTools, missingSpecMessage } from '../lib/fake-tools.mjs';
import { startMockProvider } from '../lib/mock-process.mjs';
import { readUiStream } from '../read-ui-stream.mjs';
import { referenceChat, userMessages } from '../reference-chat.mjs';

/** Fast delays: the test checks behaviour, not timing. */
const FAST = 'ttft_ms=0 gap_ms=1';
/** A guard against a hang, far above what a fast scenario takes. */
const RUN_TIMEOUT_MS = 30_000;
const KNOWN_TITLE = FAKE_SPECS[0].title;

let mock;
before(async () => {
  mock = await startMockProvider();
});
after(async () => {
  await mock?.stop();
});

function directive(scenario, params = '') {
  return `Please answer. [[scenario:${scenario} ${FAST}${params ? ` ${params}` : ''}]]`;
}

async function runScenario(scenario, params) {
  const text = directive(scenario, params);
  const result = await referenceChat({
    baseUrl: mock.baseUrl,
    messages: userMessages(text),
    tools: fakeTools(),
    abortSignal: AbortSignal.timeout(RUN_TIMEOUT_MS),
    log: () => {},
  });
  return { text, ...result };
}

/** The content deltas the mock streams for `text` when asked directly, without the SDK. */
async function directContentDeltas(text) {
  const response = await fetch(`${mock.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer mock-key' },
    body: JSON.stringify({ model: 'mock-gpt', stream: true, messages: [{ role: 'user', content: text }] }),
    signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
  });
  assert.equal(response.status, 200);
  const deltas = [];
  const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const event of events) {
    if (event.data === '[DONE]') continue;
    const content = JSON.parse(event.data).choices?.[0]?.delta?.content;
    if (content) deltas.push(content);
  }
  return deltas;
}

/** What every completed answer must satisfy, whatever the scenario. */
async function assertCompleted(run, steps) {
  assert.deepEqual(run.errors, [], 'the SDK reported errors');
  const last = run.chunks.at(-1);
  assert.deepEqual(last, { type: 'finish', finishReason: 'stop' });
  assert.equal(run.chunks.filter(c => c.type === 'start-step').length, steps, 'steps');
  assert.ok(run.chunks.filter(c => c.type === 'text-delta').every(c => c.delta.length > 0), 'empty text-delta');
  assert.equal(run.message.parts.filter(p => p.type === 'step-start').length, steps);
  // The browser's reading of the exact bytes builds the same message (the oracle agrees).
  const read = await readUiStream(run.sse);
  assert.equal(read.ok, true, read.errors.join('; '));
  assert.equal(read.done, true);
  assert.deepEqual(read.message, run.message);
}

const finalText = run => run.message.parts.filter(p => p.type === 'text').map(p => p.text).join('');
const toolParts = run => run.message.parts.filter(p => p.type.startsWith('tool-'));
const textDeltas = run => run.chunks.filter(c => c.type === 'text-delta').map(c => c.delta);

describe('the real AI SDK completes every non-fault scenario against the mock', () => {
  for (const [scenario, params, chunks] of [
    ['text', 'chunks=12', 12],
    ['long', '', 1000],
    ['unicode', '', null],
  ]) {
    test(`${scenario}: each provider text chunk is one text-delta, byte for byte`, async () => {
      const run = await runScenario(scenario, params);
      await assertCompleted(run, 1);
      const direct = await directContentDeltas(run.text);
      if (chunks != null) assert.equal(direct.length, chunks);
      assert.deepEqual(textDeltas(run), direct);
      assert.equal(finalText(run), direct.join(''));
      assert.deepEqual(toolParts(run), []);
    });
  }

  test('tool-single: get_spec runs and the answer quotes its title', async () => {
    const run = await runScenario('tool-single');
    await assertCompleted(run, 2);
    const [call] = toolParts(run);
    assert.equal(toolParts(run).length, 1);
    assert.equal(call.type, 'tool-get_spec');
    assert.equal(call.state, 'output-available');
    assert.deepEqual(call.input, { id: FAKE_SPECS[0].id });
    assert.equal(call.output.title, KNOWN_TITLE);
    assert.match(finalText(run), new RegExp(`"${KNOWN_TITLE}"`));
  });

  test('tool-parallel: get_spec and search_specs in one step, both quoted', async () => {
    const run = await runScenario('tool-parallel');
    await assertCompleted(run, 2);
    const parts = toolParts(run);
    assert.deepEqual(parts.map(p => [p.type, p.state]).sort(), [
      ['tool-get_spec', 'output-available'],
      ['tool-search_specs', 'output-available'],
    ]);
    const search = parts.find(p => p.type === 'tool-search_specs');
    assert.deepEqual(search.input, { query: 'streaming' });
    assert.ok(search.output.results.length > 0, 'the search found nothing');
    // Both calls belong to the first step: the second step-start comes after them.
    const kinds = run.message.parts.map(p => p.type);
    assert.ok(kinds.lastIndexOf('step-start') > Math.max(kinds.indexOf('tool-get_spec'), kinds.indexOf('tool-search_specs')));
    assert.match(finalText(run), /get_spec returned "[^"]+"; search_specs returned "[^"]+"/);
    assert.ok(finalText(run).includes(`"${KNOWN_TITLE}"`));
    // The interleaved argument fragments were reassembled per call.
    const deltas = run.chunks.filter(c => c.type === 'tool-input-delta');
    for (const part of parts) {
      const own = deltas.filter(d => d.toolCallId === part.toolCallId);
      assert.ok(own.length >= 2, `${part.type}: arguments arrived in ${own.length} fragment(s)`);
      assert.deepEqual(JSON.parse(own.map(d => d.inputTextDelta).join('')), part.input);
    }
  });

  test('tool-chain: list_specs, then get_spec on an id from that list, then the title', async () => {
    const run = await runScenario('tool-chain');
    await assertCompleted(run, 3);
    const [list, get] = toolParts(run);
    assert.equal(list.type, 'tool-list_specs');
    assert.equal(get.type, 'tool-get_spec');
    assert.equal(get.state, 'output-available');
    assert.ok(list.output.specs.some(s => s.id === get.input.id), 'get_spec id not taken from the list');
    assert.ok(finalText(run).includes(`"${get.output.title}"`), finalText(run));
  });

  test('tool-error: get_spec on a missing id is a tool error the answer quotes', async () => {
    const run = await runScenario('tool-error');
    await assertCompleted(run, 2);
    const [call] = toolParts(run);
    assert.equal(call.type, 'tool-get_spec');
    assert.equal(call.state, 'output-error');
    assert.equal(call.errorText, missingSpecMessage(call.input.id));
    assert.ok(run.chunks.some(c => c.type === 'tool-output-error' && c.errorText === call.errorText));
    // @ai-sdk/openai@4 sends the model a tool error as `{"error": text}`.
    assert.ok(finalText(run).includes(JSON.stringify({ error: call.errorText })), finalText(run));
  });
});

describe('fault scenarios as the bare AI SDK sees them', () => {
  test('http-500: one error chunk with the documented text, then [DONE]', async () => {
    const run = await runScenario('http-500');
    assert.deepEqual(run.chunks, [{ type: 'start' }, { type: 'error', errorText: 'provider returned HTTP 500' }]);
    assert.ok(run.sse.endsWith('data: [DONE]\n\n'));
  });

  test('truncated: the UI stream breaks, so the written SSE has no [DONE]', async () => {
    const run = await runScenario('truncated', 'chunks=6');
    assert.ok(run.chunks.some(c => c.type === 'text-delta'));
    assert.ok(!run.chunks.some(c => c.type === 'finish'));
    assert.ok(!run.sse.includes('[DONE]'));
    assert.equal(run.errors.length, 1);
    const read = await readUiStream(run.sse);
    assert.equal(read.done, false);
    assert.deepEqual(read.message, run.message);
  });
});

describe('the mock through the SDK\'s other paths', () => {
  const model = () => createOpenAI({ baseURL: mock.baseUrl, apiKey: 'mock-key' }).chat('mock-gpt');

  test('streamed usage (stream_options.include_usage) reaches the SDK for every step', async () => {
    const result = streamText({ model: model(), prompt: directive('tool-single', 'chunks=3'), tools: fakeTools(), stopWhen: stepCountIs(5), maxRetries: 0 });
    await result.consumeStream();
    const steps = await result.steps;
    assert.equal(steps.length, 2);
    for (const step of steps) {
      assert.ok(step.usage.inputTokens > 0 && step.usage.outputTokens > 0, JSON.stringify(step.usage));
    }
    assert.equal((await result.response).modelId, 'mock-gpt');
  });

  test('generateText (not streamed) completes a multi-step tool answer', async () => {
    const result = await generateText({ model: model(), prompt: directive('tool-single', 'chunks=3'), tools: fakeTools(), stopWhen: stepCountIs(5), maxRetries: 0 });
    assert.equal(result.steps.length, 2);
    assert.equal(result.finishReason, 'stop');
    assert.equal(result.steps[0].toolResults[0].output.title, KNOWN_TITLE);
    assert.ok(result.text.includes(`"${KNOWN_TITLE}"`), result.text);
    assert.ok(result.totalUsage.totalTokens > 0);
  });
});

const SCRIPT = fileURLToPath(new URL('../reference-chat.mjs', import.meta.url));

const runCli = (args, input = '') => runScript(SCRIPT, args, input);

/**
 * A stand-in for a backend's public REST API over the fake corpus: tool definitions at
 * /api/tools, the spec routes, and errors in the project's JSON error shape.
 */
async function startRestApi() {
  const definitions = Object.entries(fakeTools())
    .filter(([name]) => !name.startsWith('__'))
    .map(([name, t]) => ({ name, description: t.description, input_schema: t.inputSchema.jsonSchema }));
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const summary = ({ id, title, status }) => ({ id, title, status });
    if (url.pathname === '/api/tools') return send(200, { tools: definitions });
    if (url.pathname === '/api/specs') {
      const status = url.searchParams.get('status');
      return send(200, { specs: FAKE_SPECS.filter(s => !status || s.status === status).map(summary) });
    }
    if (url.pathname.startsWith('/api/specs/')) {
      const id = decodeURIComponent(url.pathname.slice('/api/specs/'.length));
      const spec = FAKE_SPECS.find(s => s.id === id);
      return spec ? send(200, spec) : send(404, { error: { code: 'not_found', message: `no spec with id ${id}` } });
    }
    if (url.pathname === '/api/search') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      return send(200, { results: FAKE_SPECS.filter(s => s.title.toLowerCase().includes(q)).map(summary) });
    }
    return send(404, { error: { code: 'not_found', message: 'no such route' } });
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise(resolve => server.close(resolve)) };
}

describe('reference-chat.mjs against the mock', () => {
  test('--tools-rest: tools run through the REST routes; a 404 is a tool error with its message', async () => {
    const rest = await startRestApi();
    try {
      const chain = await runCli(['--base-url', mock.baseUrl, '--text', directive('tool-chain'), '--tools-rest', rest.url]);
      assert.equal(chain.code, 0, chain.stderr);
      const chained = JSON.parse(chain.stdout);
      assert.deepEqual(chained.errors, []);
      assert.deepEqual(
        chained.message.parts.filter(p => p.type.startsWith('tool-')).map(p => [p.type, p.state]),
        [['tool-list_specs', 'output-available'], ['tool-get_spec', 'output-available']],
      );
      assert.ok(finalText(chained).includes(`"${KNOWN_TITLE}"`));

      const failed = await runCli(['--base-url', mock.baseUrl, '--text', directive('tool-error'), '--tools-rest', rest.url]);
      assert.equal(failed.code, 0, failed.stderr);
      const [call] = toolParts(JSON.parse(failed.stdout));
      assert.equal(call.state, 'output-error');
      assert.equal(call.errorText, 'no spec with id 999-no-such-spec');
    } finally {
      await rest.close();
    }
  });

  test('--body-stdin: a second turn that sends back the first answer\'s tool parts completes', async () => {
    const first = await runScenario('tool-single');
    const body = {
      id: 'chat-1',
      trigger: 'submit-message',
      messages: [...userMessages(first.text), { ...first.message, id: 'assistant-1' }, { id: 'user-2', role: 'user', parts: [{ type: 'text', text: directive('text', 'chunks=5') }] }],
    };
    const { code, stdout, stderr } = await runCli(['--base-url', mock.baseUrl, '--body-stdin', '--fake-tools'], JSON.stringify(body));
    assert.equal(code, 0, stderr);
    const second = JSON.parse(stdout);
    assert.deepEqual(second.errors, []);
    assert.equal(textDeltas(second).length, 5);
    assert.deepEqual(toolParts(second), []);
    assert.ok(second.sse.endsWith('data: [DONE]\n\n'));
  });
});
