// The reference UI message streams: each case drives the real `streamText` (and, for data parts,
// `createUIMessageStream`) over a scripted model and answers the exact `Response` a route
// handler would send. Together they cover every chunk type ai@6 emits.

import { createUIMessageStream, createUIMessageStreamResponse, dynamicTool, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { mockId } from 'ai/test';
import { z } from 'zod';
import { fakeTools } from './fake-tools.mjs';
import { reasoning, scriptedModel, step, text, toolCall } from './scripted-model.mjs';
import { MAX_STEPS } from '../../../contract/js/contract.mjs';
import { uiErrorText } from './ui-error-text.mjs';

const KNOWN = '001-chat-sidecar-architecture';
const MISSING = '999-no-such-spec';
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function run(model, { tools = fakeTools(), abortSignal, maxRetries = 0, ui = {} } = {}) {
  const result = streamText({
    model,
    prompt: 'Tell me about the specs.',
    tools,
    stopWhen: stepCountIs(MAX_STEPS),
    maxRetries,
    abortSignal,
    // The failing cases fail on purpose: one line on stderr instead of the default stack dump.
    onError: ({ error }) => process.stderr.write(`expected failure: ${error.message}\n`),
    _internal: { generateId: mockId({ prefix: 'id' }) },
  });
  return result.toUIMessageStreamResponse({ sendSources: true, onError: uiErrorText, ...ui });
}

/** get_spec with a validating (zod) input schema, so bad input becomes a tool-input-error. */
function strictTools() {
  const base = fakeTools();
  return { ...base, get_spec: tool({ ...base.get_spec, inputSchema: z.object({ id: z.string() }) }) };
}

/** A get_spec with a title, an approval-gated tool, a client-side tool and a streaming tool. */
export function richTools() {
  const base = fakeTools();
  return {
    ...base,
    get_spec: tool({ ...base.get_spec, title: 'Read spec' }),
    list_specs: tool({ ...base.list_specs, metadata: { source: 'leanspec-core', version: 1 } }),
    delete_spec: tool({
      description: 'Delete a spec (asks the user first).',
      inputSchema: jsonSchema({ type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }),
      needsApproval: true,
      execute: async ({ id }) => ({ deleted: id }),
    }),
    ask_user: tool({
      description: 'Ask the user a question; answered in the browser.',
      inputSchema: jsonSchema({ type: 'object', properties: { question: { type: 'string' } }, required: ['question'] }),
    }),
    reindex: tool({
      description: 'Rebuild the search index, reporting progress.',
      inputSchema: jsonSchema({ type: 'object', properties: {} }),
      async *execute() {
        yield { state: 'running', done: 1, total: 3 };
        yield { state: 'running', done: 2, total: 3 };
        yield { state: 'finished', done: 3, total: 3 };
      },
    }),
    mark_read: tool({
      description: 'Mark a spec as read; returns nothing.',
      inputSchema: jsonSchema({ type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }),
      execute: async () => undefined,
    }),
    fetch_url: dynamicTool({
      description: 'A tool whose types are only known at run time.',
      inputSchema: jsonSchema({ type: 'object', properties: { url: { type: 'string' } } }),
      execute: async ({ url }) => ({ url, status: 200, bytes: 512 }),
    }),
  };
}

export const STREAM_CASES = {
  text: () =>
    run(scriptedModel([step(text('txt-0', ['Hello', ', ', 'world', '! ', 'Ünïcödé 你好 👍🏽']))])),

  'tool-multi-step': () =>
    run(
      scriptedModel([
        step(
          [
            ...text('txt-0', ['Let me look ', 'that up.']),
            ...toolCall('call-1', 'get_spec', ['{"id":', `"${KNOWN.slice(0, 9)}`, `${KNOWN.slice(9)}"}`]),
            ...toolCall('call-2', 'get_spec', ['{"i', `d":"${MISSING}"`, '}']),
          ],
          'tool-calls',
        ),
        step([...toolCall('call-3', 'list_specs', ['{"status":', '"complete"}'], { inputEncoding: 'json' })], 'tool-calls'),
        step(text('txt-1', ['The spec is titled ', '"Chat sidecar architecture"', '; the other one does not exist.'])),
      ]),
      { tools: richTools() },
    ),

  'tool-input-error': () =>
    run(
      scriptedModel([
        step(
          [
            ...toolCall('call-1', 'get_spec', ['{"id":', '42}']),
            ...toolCall('call-2', 'no_such_tool', ['{}']),
            ...toolCall('call-3', 'get_spec', ['{"id":', '"001-']),
          ],
          'tool-calls',
        ),
        step(text('txt-0', ['Those calls were invalid.'])),
      ]),
      { tools: strictTools() },
    ),

  'tool-approval': () =>
    run(
      scriptedModel([
        step(
          [
            ...toolCall('call-1', 'delete_spec', [`{"id":"${KNOWN}"}`]),
            ...toolCall('call-2', 'ask_user', ['{"question":', '"Which spec?"}']),
          ],
          'tool-calls',
        ),
      ]),
      { tools: richTools() },
    ),

  'tool-preliminary-dynamic': () =>
    run(
      scriptedModel([
        step(
          [...toolCall('call-1', 'reindex', ['{}']), ...toolCall('call-2', 'fetch_url', ['{"url":"https://example.com/spec"}'])],
          'tool-calls',
        ),
        step(text('txt-0', ['Reindexed; the page is 512 bytes.'])),
      ]),
      { tools: richTools() },
    ),

  reasoning: () =>
    run(
      scriptedModel([
        step([
          ...reasoning('rsn-0', ['The user wants ', 'a summary.'], { openai: { itemId: 'rs_1' } }),
          ...text('txt-0', ['Here is ', 'the summary.'], { openai: { itemId: 'msg_1' } }),
        ]),
      ]),
    ),

  'sources-files': () =>
    run(
      scriptedModel([
        step([
          { type: 'source', sourceType: 'url', id: 'src-1', url: 'https://example.com/specs/001', title: 'Spec 001' },
          { type: 'source', sourceType: 'url', id: 'src-2', url: 'https://example.com/untitled' },
          {
            type: 'source',
            sourceType: 'document',
            id: 'src-3',
            mediaType: 'text/markdown',
            title: 'Spec 002',
            filename: 'README.md',
            providerMetadata: { scripted: { page: 2 } },
          },
          { type: 'source', sourceType: 'document', id: 'src-4', mediaType: 'application/pdf', title: 'Design notes' },
          { type: 'file', mediaType: 'image/png', data: PNG_1X1 },
          ...text('txt-0', ['See the diagram and the sources.']),
        ]),
      ]),
    ),

  metadata: () =>
    run(scriptedModel([step(text('txt-0', ['With metadata.']))]), {
      ui: {
        generateMessageId: mockId({ prefix: 'msg' }),
        messageMetadata: ({ part }) => {
          if (part.type === 'start') return { createdAt: 1700000000000, model: 'scripted-model' };
          if (part.type === 'finish-step') return { stepTokens: 34 };
          if (part.type === 'finish') return { totalTokens: 46 };
          return undefined;
        },
      },
    }),

  'data-parts': () =>
    createUIMessageStreamResponse({
      stream: createUIMessageStream({
        onError: uiErrorText,
        execute: ({ writer }) => {
          writer.write({ type: 'data-progress', id: 'progress-1', data: { stage: 'searching', percent: 10 } });
          writer.write({ type: 'data-notice', data: { text: 'transient notice' }, transient: true });
          writer.write({ type: 'data-progress', id: 'progress-1', data: { stage: 'done', percent: 100 } });
          writer.write({ type: 'data-citation', data: { specId: KNOWN } });
          const result = streamText({
            model: scriptedModel([step(text('txt-0', ['Data parts ', 'done.']))]),
            prompt: 'Tell me about the specs.',
          });
          writer.merge(result.toUIMessageStream({ sendStart: false, onError: uiErrorText }));
        },
      }),
    }),

  'error-mid-stream': () =>
    run(
      scriptedModel([
        step([...text('txt-0', ['Partial ', 'answer']), { type: 'error', error: new TypeError('terminated') }], 'error', {
          finish: false,
        }),
      ]),
    ),

  'error-at-start': () => run(scriptedModel([], { failAt: 0 })),

  abort: () => {
    const controller = new AbortController();
    const parts = text('txt-0', ['Streaming ', 'until ', 'the ', 'user ', 'stops ', 'it.']);
    const model = scriptedModel([step(parts, 'stop', { abort: { controller, after: 3 } })]);
    return run(model, { abortSignal: controller.signal });
  },

  'abort-during-tool-input': () => {
    const controller = new AbortController();
    const parts = toolCall('call-1', 'get_spec', ['{"id":', '"001-', 'chat', '-sidecar', '-architecture"}']);
    const model = scriptedModel([step(parts, 'tool-calls', { abort: { controller, after: 3 } })]);
    return run(model, { abortSignal: controller.signal });
  },
};
