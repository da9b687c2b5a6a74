// The one chat function: a useChat request in, the AI SDK's UI message stream out.
//
// Shared by the sidecar server (which calls tools back over a socket) and the napi backend
// (which imports the bundle and calls tools as Rust functions): both pass their own `callTool`.
// The JS side holds no tool logic and no schema: tool definitions come from the Rust side.

import { createOpenAI } from '@ai-sdk/openai';
import { convertToModelMessages, jsonSchema, stepCountIs, tool } from 'ai';

import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_RETRIES, MAX_STEPS, toolNotCalled } from '../../../contract/js/contract.mjs';
import { errorText, ToolFailure } from './errors.mjs';
import { redactor } from './redact.mjs';
import { guardProviderFetch } from './provider-fetch.mjs';
import { singleConsumerStreamText, stepTimingLog, toUIMessageChunk, uiMessageStream } from './sdk.mjs';
import { uiChunkReader } from './ui-chunks.mjs';

/** A request the chat function cannot use (the server answers 400 `invalid_request`). */
export class ChatInputError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ChatInputError';
  }
}

/**
 * @param {object} options
 * @param {string} options.providerUrl OpenAI-compatible base URL, e.g. `http://127.0.0.1:PORT/v1`.
 * @param {string} options.apiKey sent to the provider only; never logged.
 * @param {string} options.model
 * @param {Array<{name: string, description: string, input_schema: object}>} options.toolDefinitions
 * @param {(name: string, input: unknown, options: {abortSignal?: AbortSignal}) => Promise<object>} options.callTool
 *   resolves to a ToolOutcome: `{status:"ok",output}`, `{status:"error",message}` or
 *   `{status:"crash_runtime",message}`.
 * @param {number} [options.idleTimeoutMs] a provider silent this long ends the stream in error.
 * @param {number} [options.maxRetries] provider retries with the AI SDK's backoff; the default is
 *   the SDK's own (2), so a 429 is retried exactly as a plain `streamText` would.
 * @param {(line: string) => void} [options.log] one line per failure, already redacted.
 */
export function createChat({
  providerUrl,
  apiKey,
  model,
  toolDefinitions,
  callTool,
  idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
  maxRetries = DEFAULT_MAX_RETRIES,
  log = (line) => process.stderr.write(`${line}\n`),
}) {
  if (typeof providerUrl !== 'string' || providerUrl === '') {
    throw new TypeError('createChat: providerUrl is required (the OpenAI-compatible base URL)');
  }
  if (typeof model !== 'string' || model === '') {
    throw new TypeError('createChat: model is required');
  }
  if (typeof callTool !== 'function') {
    throw new TypeError('createChat: callTool must be a function returning a ToolOutcome');
  }
  const redact = redactor(apiKey);
  // One line per failure: the request it belongs to and where the error was raised
  // (docs/architecture.md#request-id).
  const errorLog = (context, error, requestId) =>
    log(redact(`${context} [request ${requestId ?? '-'}]: ${describe(error)}${where(error)}`).replace(/\s*\n\s*/g, ' '));

  const provider = createOpenAI({
    baseURL: providerUrl,
    // The SDK refuses to run without a key; an empty one still lets a keyless local provider work.
    apiKey: apiKey ?? '',
    fetch: guardProviderFetch({ idleTimeoutMs }),
  });
  // Built once: a language model object holds no per-request state, as the AI SDK's own
  // examples that share one across calls rely on.
  const languageModel = provider.chat(model);
  const stepTiming = stepTimingLog(log);
  // What both readers share: the request checked, `streamText` started.
  async function begin(body, abortSignal, requestId) {
    const messages = body?.messages;
    if (!Array.isArray(messages)) {
      throw new ChatInputError('`messages` must be an array of UI messages');
    }
    if (messages.length === 0) {
      throw new ChatInputError('`messages` is empty: send at least one user message');
    }
    const tools = buildTools(toolDefinitions ?? [], callTool, requestId);
    let modelMessages;
    try {
      // A tool call left without a result (the user stopped the answer mid-call) is dropped;
      // otherwise every later request of that chat would fail with MissingToolResultsError.
      modelMessages = await convertToModelMessages(messages, { tools, ignoreIncompleteToolCalls: true });
    } catch (error) {
      throw new ChatInputError(`invalid messages: ${redact(describe(error))}`, { cause: error });
    }

    // Aborted by the caller (client gone) or by us (the answer ended in an error).
    const stop = new AbortController();
    const signal = abortSignal ? AbortSignal.any([abortSignal, stop.signal]) : stop.signal;
    // The single-consumer `streamText`: the plain one tees its stream so that its result
    // promises can replay it, and the branch nobody reads keeps every part passed on until the
    // answer ends (about 160 bytes per chunk, measured; docs/readers.md#what-the-ai-sdk-keeps).
    // We read the stream once and use none of those promises. The same engine and options.
    const result = singleConsumerStreamText({
      model: languageModel,
      messages: modelMessages,
      tools,
      stopWhen: stepCountIs(MAX_STEPS),
      // The AI SDK's default unless configured (docs/architecture.md, "Error text").
      maxRetries,
      abortSignal: signal,
      onError: ({ error }) => errorLog('chat stream failed', error, requestId),
      // A call the model garbled (arguments that do not parse, an unknown tool) is refused
      // before any tool runs: the step holds it as an invalid tool call with its error, and
      // nothing reaches onError; the operator is told which.
      onStepFinish: (step) => {
        for (const part of step.content) {
          if (part.type === 'tool-call' && part.invalid) errorLog(`tool call ${part.toolName} refused`, part.error, requestId);
        }
        stepTiming?.(step, requestId);
      },
    });
    return {
      result,
      tools,
      callerSignal: abortSignal,
      stopUpstream: () => stop.abort(),
      onBroken: (error) => errorLog('chat stream broke', error, requestId),
    };
  }

  /** The UI message stream (the `sse` wire and napi). */
  async function streamChat(body, abortSignal, { requestId } = {}) {
    const { result, tools, ...ending } = await begin(body, abortSignal, requestId);
    return endAtFirstError(uiMessageStream(result, { tools, onError: errorText }), ending);
  }

  /**
   * The same chunks as a reader without the UI stream's stages (the `frames` wire:
   * ui-chunks.mjs); on an SDK without `toUIMessageChunk` (ai@6), the UI stream's own reader.
   */
  async function readChatChunks(body, abortSignal, { requestId } = {}) {
    if (!toUIMessageChunk) return (await streamChat(body, abortSignal, { requestId })).getReader();
    const { result, tools, ...ending } = await begin(body, abortSignal, requestId);
    return uiChunkReader(result.stream, { toUIMessageChunk, tools, ...ending });
  }

  return { streamChat, readChatChunks };
}

/**
 * docs/design.md#an-upstream-failure-ends-the-answer: an upstream failure ends the answer with an `error` chunk and `[DONE]`. The AI SDK
 * falls short twice: after a malformed provider chunk it emits `error` and reads on (finishing
 * normally, so a cut answer would look complete), and a provider body that breaks mid-read errors
 * the UI stream itself (no `error` chunk, no `[DONE]`). So the first `error` chunk is the last
 * one forwarded (and the provider request is cancelled), and a stream error becomes that chunk.
 */
function endAtFirstError(stream, { callerSignal, stopUpstream, onBroken }) {
  const reader = stream.getReader();
  const finish = (controller) => {
    controller.close();
    reader.cancel().catch(() => {});
    stopUpstream();
  };
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        controller.enqueue(value);
        if (value.type === 'error') finish(controller);
      } catch (error) {
        // Aborted by the caller: nobody is listening for an error chunk.
        if (callerSignal?.aborted) {
          controller.close();
          return;
        }
        onBroken(error);
        controller.enqueue({ type: 'error', errorText: errorText(error) });
        finish(controller);
      }
    },
    // A consumer that stops reading (napi's sink dropped, a server response closed) must end
    // the provider request too. The SDK tees its streams, so cancelling the UI stream alone
    // leaves the provider body open until the idle timeout: abort it explicitly.
    cancel(reason) {
      stopUpstream();
      return reader.cancel(reason);
    },
  });
}

function buildTools(definitions, callTool, requestId) {
  const tools = {};
  for (const { name, description, input_schema: inputSchema } of definitions) {
    tools[name] = tool({
      description,
      inputSchema: jsonSchema(inputSchema ?? { type: 'object', properties: {} }),
      execute: (input, { abortSignal }) => runTool(callTool, name, input, { abortSignal, requestId }),
    });
  }
  return tools;
}

async function runTool(callTool, name, input, options) {
  let outcome;
  try {
    outcome = await callTool(name, input, options);
  } catch (error) {
    // The callback itself failed (socket gone, bad answer): a tool error the model can see,
    // never a crash of the chat.
    const reason = error instanceof Error ? error.message : String(error);
    throw new ToolFailure(toolNotCalled(name, reason), { cause: error });
  }
  switch (outcome?.status) {
    case 'ok':
      return outcome.output ?? null;
    case 'error':
      throw new ToolFailure(String(outcome.message));
    case 'crash_runtime':
      crashRuntime(String(outcome.message));
      // Reached only if the host swallows uncaught exceptions: the chat then ends as a tool error.
      throw new ToolFailure(String(outcome.message));
    default:
      throw new ToolFailure(`tool ${name} returned an unrecognised outcome`);
  }
}

/**
 * Fault injection (`__crash`): the JS runtime must die as it would on a real uncaught exception.
 * Throwing here would only reject the tool's promise, which the SDK catches; an exception thrown
 * from a `setImmediate` callback has no caller to catch it, so Node's `uncaughtException` path
 * runs: the process exits with code 1 unless its host installed a handler.
 */
function crashRuntime(message) {
  setImmediate(() => {
    throw new Error(`runtime crash requested by tool: ${message}`);
  });
}

/** ` at <file>:<line>:<column>`: the first frame of the error's stack, where it was raised. */
function where(error) {
  const frame = typeof error?.stack === 'string' ? /\n\s*at (?:.*\()?([^()\s]+:\d+:\d+)\)?/.exec(error.stack) : null;
  return frame ? ` at ${frame[1]}` : '';
}

function describe(error) {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}
