// A scripted language model for capturing reference streams: `MockLanguageModelV3` from `ai/test`
// plays one list of provider stream parts per step, so `streamText` runs its real code (tool
// loop, UI stream conversion) over exactly the provider behaviour a case needs.

import { APICallError } from 'ai';
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test';

const USAGE = {
  inputTokens: { total: 12, noCache: 12, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 34, text: 34, reasoning: 0 },
};

/** A model whose n-th call streams `steps[n]` (an array of stream parts, finish excluded). */
export function scriptedModel(steps, { failAt = null } = {}) {
  let call = 0;
  return new MockLanguageModelV3({
    provider: 'scripted',
    modelId: 'scripted-model',
    doStream: async () => {
      const index = call++;
      if (failAt === index) {
        throw new APICallError({
          message: 'Internal Server Error',
          url: 'http://127.0.0.1/v1/chat/completions',
          requestBodyValues: {},
          statusCode: 500,
          responseBody: '{"error":{"message":"scripted failure","type":"server_error"}}',
          isRetryable: true,
        });
      }
      const step = steps[index];
      if (step == null) throw new Error(`scripted model has no step ${index}`);
      const stream = simulateReadableStream({ chunks: step.parts });
      return { stream: step.abort ? stream.pipeThrough(abortAfter(step.abort)) : stream };
    },
  });
}

/**
 * Passes parts through and aborts `controller` once `after` of them went by: the user pressing
 * stop at a chosen point, without timers, so the captured stream is the same on every run.
 */
function abortAfter({ controller, after }) {
  let seen = 0;
  return new TransformStream({
    transform(part, out) {
      out.enqueue(part);
      if (++seen === after) controller.abort();
    },
  });
}

/**
 * One step: stream-start, response metadata, `parts`, then a finish with `reason` (unless
 * `finish` is false). `abort: {controller, after}` aborts the call after that many of `parts`.
 */
export function step(parts, reason = 'stop', { abort, finish = true } = {}) {
  const framed = [
    { type: 'stream-start', warnings: [] },
    { type: 'response-metadata', id: 'resp-1', modelId: 'scripted-model', timestamp: new Date(0) },
    ...parts,
  ];
  if (finish) framed.push({ type: 'finish', usage: USAGE, finishReason: { unified: reason, raw: reason } });
  return { parts: framed, abort: abort && { ...abort, after: abort.after + 2 } };
}

/** Text block `id` streamed as the given deltas. */
export function text(id, deltas, providerMetadata) {
  return block('text', id, deltas, providerMetadata);
}

/** Reasoning block `id` streamed as the given deltas. */
export function reasoning(id, deltas, providerMetadata) {
  return block('reasoning', id, deltas, providerMetadata);
}

/** `<kind>-start`, one `<kind>-delta` per delta, `<kind>-end`: text and reasoning stream alike. */
function block(kind, id, deltas, providerMetadata) {
  const meta = providerMetadata ? { providerMetadata } : {};
  return [
    { type: `${kind}-start`, id, ...meta },
    ...deltas.map(delta => ({ type: `${kind}-delta`, id, delta })),
    { type: `${kind}-end`, id, ...meta },
  ];
}

/** A tool call whose JSON arguments arrive in `fragments`, as a provider streams them. */
export function toolCall(toolCallId, toolName, fragments, startExtra = {}, callExtra = {}) {
  return [
    { type: 'tool-input-start', id: toolCallId, toolName, ...startExtra },
    ...fragments.map(delta => ({ type: 'tool-input-delta', id: toolCallId, delta })),
    { type: 'tool-input-end', id: toolCallId },
    { type: 'tool-call', toolCallId, toolName, input: fragments.join(''), ...callExtra },
  ];
}
