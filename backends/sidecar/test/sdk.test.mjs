// What differs between the two AI SDK majors the chat code runs on (src/sdk.mjs): the step
// timing line is written only when asked, only for a step ai@7 timed, after the step, and in
// the shape the harness reads (contract::sdk_timing).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SDK_TIMING_ENV, SDK_TIMING_LINE } from '../../../contract/js/contract.mjs';
import { stepTimingLog, uiMessageStream } from '../src/sdk.mjs';

const on = { [SDK_TIMING_ENV]: '1' };
const timed = {
  performance: {
    timeToFirstOutputMs: 12.5,
    timeBetweenOutputChunksMs: { min: 1, p10: 1, median: 2, avg: 2, p90: 3, max: 4 },
  },
};

test('no timing lines unless the environment asks for them', () => {
  assert.equal(stepTimingLog(() => {}, {}), undefined);
  assert.equal(stepTimingLog(() => {}, { [SDK_TIMING_ENV]: '0' }), undefined);
});

test("a timed step becomes one line on a later turn; ai@6's untimed step none", async () => {
  const lines = [];
  const logStep = stepTimingLog((line) => lines.push(line), on);
  logStep(timed, 'req-1');
  logStep({ performance: undefined }, 'req-2');
  logStep({}, 'req-3');
  assert.deepEqual(lines, [], 'nothing is written while the step is still on the stream');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 1);
  assert.ok(lines[0].startsWith(SDK_TIMING_LINE));
  assert.deepEqual(JSON.parse(lines[0].slice(SDK_TIMING_LINE.length)), {
    request: 'req-1',
    ttfo_ms: 12.5,
    gap_ms: timed.performance.timeBetweenOutputChunksMs,
  });
});

test('the UI stream comes from ai@7\'s standalone function here, with the tools and error mapping', () => {
  // The sidecar's own `ai` is ai@7: the standalone toUIMessageStream is the one used, and the
  // result's deprecated method is not called.
  const result = {
    stream: new ReadableStream({ start: (c) => c.close() }),
    toUIMessageStream: () => assert.fail('the ai@6 method is used only where ai@7\'s is missing'),
  };
  const stream = uiMessageStream(result, { tools: {}, onError: String });
  assert.equal(typeof stream.getReader, 'function');
});
