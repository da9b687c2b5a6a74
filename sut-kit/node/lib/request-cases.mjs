// Captures `useChat` request bodies the way a browser produces them: the SDK's own `AbstractChat`
// with its `DefaultChatTransport` talks to an in-memory route handler (a `fetch` that runs the real
// `streamText` over a scripted model). Each request body the transport sends is recorded. The
// conversation is chosen so that, across the requests, every part kind and every tool state
// appears: text, file, reasoning, step-start, source-url, source-document, data-*, tool-* and
// dynamic-tool parts in input-streaming, input-available, approval-requested, approval-responded,
// output-available, output-error and output-denied; plus metadata, regenerate and edit triggers.

import { AbstractChat, convertToModelMessages, createUIMessageStream, createUIMessageStreamResponse, DefaultChatTransport, stepCountIs, streamText } from 'ai';
import { mockId } from 'ai/test';
import { reasoning, scriptedModel, step, text, toolCall } from './scripted-model.mjs';
import { richTools } from './stream-cases.mjs';
import { MAX_STEPS } from '../../../contract/js/contract.mjs';
import { uiErrorText } from './ui-error-text.mjs';

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** The minimal `ChatState` a UI framework would provide, kept in plain memory. */
class MemoryChatState {
  status = 'ready';
  error = undefined;
  messages = [];
  pushMessage = message => {
    this.messages = [...this.messages, message];
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (index, message) => {
    this.messages = [...this.messages.slice(0, index), this.snapshot(message), ...this.messages.slice(index + 1)];
  };
  snapshot = value => structuredClone(value);
}

class MemoryChat extends AbstractChat {
  constructor(init) {
    super({ ...init, state: new MemoryChatState() });
  }
}

const CALL_META = { providerMetadata: { openai: { itemId: 'fc_1' } } };

/** What the route handler answers, request by request: the steps of its scripted model. */
const TURNS = [
  // 1: reasoning, text, a tool that succeeds, one that fails, a dynamic tool; then sources + file.
  [
    step(
      [
        ...reasoning('rsn-0', ['The user attached notes; ', 'read spec 001.'], { openai: { itemId: 'rs_1' } }),
        ...text('txt-0', ['Reading the spec.'], { openai: { itemId: 'msg_1' } }),
        ...toolCall('call-get', 'get_spec', ['{"id":"001-chat-', 'sidecar-architecture"}'], {}, CALL_META),
        ...toolCall('call-list', 'list_specs', ['{"status":"complete"}']),
        ...toolCall('call-bad', 'get_spec', ['{"id":"001-']),
        ...toolCall('call-missing', 'get_spec', ['{"id":"999-no-', 'such-spec"}']),
        ...toolCall('call-fetch', 'fetch_url', ['{"url":"https://example.com/spec"}']),
        ...toolCall('call-mark', 'mark_read', ['{"id":"001-chat-sidecar-architecture"}']),
      ],
      'tool-calls',
    ),
    step([
      { type: 'source', sourceType: 'url', id: 'src-1', url: 'https://example.com/specs/001', title: 'Spec 001' },
      { type: 'source', sourceType: 'document', id: 'src-2', mediaType: 'text/markdown', title: 'Spec 002', filename: 'README.md' },
      { type: 'file', mediaType: 'image/png', data: PNG_1X1 },
      ...text('txt-1', ['The spec is "Chat sidecar architecture".']),
    ]),
  ],
  // 2: a tool that needs approval and a client-side tool.
  [
    step(
      [
        ...toolCall('call-delete', 'delete_spec', ['{"id":"001-chat-sidecar-architecture"}']),
        ...toolCall('call-ask', 'ask_user', ['{"question":"Which spec next?"}']),
      ],
      'tool-calls',
    ),
  ],
  // 3: after the approval was denied and the client tool answered.
  [step(text('txt-0', ['Kept the spec; next is 002.']))],
  // 4: data parts and message metadata (see `dataTurn`).
  { data: [step(text('txt-0', ['Progress reported.']))] },
  // 5: the same, regenerated.
  { data: [step(text('txt-0', ['Progress reported again.']))] },
  // 6: the user stops while tool input streams.
  'abort',
  // 7: again an approval and a client tool, this time left unanswered.
  [
    step(
      [
        ...toolCall('call-delete-2', 'delete_spec', ['{"id":"003-spec-search-index"}']),
        ...toolCall('call-ask-2', 'ask_user', ['{"question":"Sure?"}']),
      ],
      'tool-calls',
    ),
  ],
];

/** The in-memory route handler: `POST /api/chat` as a server with ai@6 would implement it. */
function routeHandler(requests, responses) {
  let turn = 0;
  return async (url, init) => {
    const response = await answer(url, init);
    const body = await response.text();
    responses.push(body);
    return new Response(body, { status: response.status, headers: response.headers });
  };

  async function answer(_url, init) {
    const body = JSON.parse(init.body);
    requests.push(body);
    const script = TURNS[Math.min(turn++, TURNS.length - 1)];
    const tools = richTools();
    let messages;
    try {
      messages = await convertToModelMessages(body.messages, { tools });
    } catch (error) {
      // A history the model cannot take (unanswered tool calls): answered as a failed stream.
      return errorResponse(error);
    }
    if (script.data) return dataTurn(script.data, messages, tools);
    const abort = new AbortController();
    const steps =
      script === 'abort'
        ? [step(toolCall('call-stop', 'get_spec', ['{"id":', '"002-', 'streaming"}']), 'tool-calls', { abort: { controller: abort, after: 2 } })]
        : script;
    const result = streamText({
      model: scriptedModel(steps),
      messages,
      tools,
      stopWhen: stepCountIs(MAX_STEPS),
      maxRetries: 0,
      abortSignal: abort.signal,
      onError: logError,
      _internal: { generateId: mockId({ prefix: `t${turn}-id` }) },
    });
    return result.toUIMessageStreamResponse({ sendSources: true, onError: uiErrorText });
  }
}

function dataTurn(script, messages, tools) {
  return createUIMessageStreamResponse({
    stream: createUIMessageStream({
      onError: uiErrorText,
      execute: ({ writer }) => {
        writer.write({ type: 'data-progress', id: 'progress-1', data: { stage: 'searching', percent: 40 } });
        writer.write({ type: 'data-progress', id: 'progress-1', data: { stage: 'done', percent: 100 } });
        const result = streamText({ model: scriptedModel(script), messages, tools, onError: logError });
        writer.merge(
          result.toUIMessageStream({
            sendStart: false,
            onError: uiErrorText,
            messageMetadata: ({ part }) => (part.type === 'finish' ? { totalTokens: 46, model: 'scripted-model' } : undefined),
          }),
        );
      },
    }),
  });
}

// A failing turn is expected (the last requests carry unanswered tool calls): one line, no stack.
function logError({ error }) {
  process.stderr.write(`route handler: ${error.message}\n`);
}

function errorResponse(error) {
  logError({ error });
  return createUIMessageStreamResponse({
    stream: createUIMessageStream({
      onError: uiErrorText,
      execute: () => {
        throw error;
      },
    }),
  });
}

/**
 * Runs the conversation; returns the request bodies in the order the transport sent them and
 * the response body (UI message stream) that answered each.
 */
export async function captureConversation() {
  const requests = [];
  const responses = [];
  const chat = new MemoryChat({
    id: 'chat-1',
    generateId: mockId({ prefix: 'msg' }),
    transport: new DefaultChatTransport({ api: 'http://localhost/api/chat', fetch: routeHandler(requests, responses) }),
  });
  const findPart = id => chat.messages.flatMap(m => m.parts).find(p => p.toolCallId === id);

  await chat.sendMessage({
    text: 'Summarise spec 001 using my notes. [[scenario:tool-single]]',
    files: [{ type: 'file', mediaType: 'text/plain', filename: 'notes.txt', url: 'data:text/plain;base64,bm90ZXM=' }],
    metadata: { sentAt: 1700000000000 },
  });
  await chat.sendMessage({ text: 'Delete it, and ask me what is next.' });
  await chat.addToolApprovalResponse({ id: findPart('call-delete').approval.id, approved: false, reason: 'Keep it.' });
  await chat.addToolOutput({ tool: 'ask_user', toolCallId: 'call-ask', output: { answer: 'spec 002' } });
  await chat.sendMessage();
  await chat.sendMessage({ text: 'Show progress while you work.' });
  await chat.regenerate({ messageId: chat.lastMessage.id });
  await chat.sendMessage({ text: 'Read spec 002.' });
  await chat.sendMessage({ text: 'Delete spec 003.' });
  await chat.sendMessage({ text: 'Never mind, just say hello.' });
  const firstUser = chat.messages.find(m => m.role === 'user');
  await chat.sendMessage({ text: 'Summarise spec 001 briefly.', messageId: firstUser.id });
  return { requests, responses };
}
