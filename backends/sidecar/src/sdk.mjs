// The two AI SDK majors the arena runs, behind one chat code path: the default stack's ai@7 and
// the comparison stack's ai@6 (runtimes/node20-ai6, docs/runtimes.md#stacks). Only what differs
// between them is here; everything else is imported from 'ai' directly.

import * as ai from 'ai';

import { SDK_TIMING_ENV, SDK_TIMING_LINE } from '../../../contract/js/contract.mjs';

/**
 * ai@7's single-consumer `streamText` (`experimental_streamTextLowMemory`: its stream is not
 * teed for a second reader, chat.mjs); ai@6 has only the plain one, which it then is.
 */
export const singleConsumerStreamText = ai['experimental_streamTextLowMemory'] ?? ai.streamText;

/**
 * The UI message stream of a `streamText` result: ai@7's standalone `toUIMessageStream` (the
 * method is deprecated there), ai@6's method where the standalone one does not exist.
 */
export function uiMessageStream(result, { tools, onError }) {
  const standalone = ai['toUIMessageStream'];
  return typeof standalone === 'function'
    ? standalone({ stream: result.stream, tools, onError })
    : result.toUIMessageStream({ onError });
}

/**
 * ai@7 times each step itself (`performance.timeToFirstOutputMs`, `timeBetweenOutputChunksMs`): a
 * second reading of TTFT and chunk gaps beside the harness's. When `ARENA_SDK_TIMING=1` (the
 * bench sets it), each step's reading becomes one log line, written after the step on a later
 * turn of the event loop so the stream being measured never waits for it. ai@6 has no such
 * timing: nothing is written. Returns `undefined` when off.
 */
export function stepTimingLog(log, env = process.env) {
  if (env[SDK_TIMING_ENV] !== '1') return undefined;
  return (step, requestId) => {
    const performance = step?.performance;
    if (performance?.timeToFirstOutputMs === undefined) return;
    const line = JSON.stringify({
      request: requestId ?? null,
      ttfo_ms: performance.timeToFirstOutputMs,
      gap_ms: performance.timeBetweenOutputChunksMs ?? null,
    });
    setImmediate(() => log(`${SDK_TIMING_LINE}${line}`));
  };
}

/**
 * ai@7's converter of one `streamText` part to its UI message chunk, the function its
 * `toUIMessageStream` calls per part (the frames wire calls it directly: ui-chunks.mjs); ai@6
 * does not export it, and the frames wire reads the UI stream there.
 */
export const toUIMessageChunk = ai['toUIMessageChunk'];
