#!/usr/bin/env node
// The cost of one Rust⇄JS crossing in the napi backend, measured with the shipped addon.
//
//   node backends/napi/bench/crossing.mjs [--json] [--noop-only]
//
// `--noop-only` times the noop call alone: the harness's bench stage takes it as the napi
// backend's floor (results.json `calibration.napi_call_ns`) without waiting for the rest.
//
// - js→rust noop:        `addon.noop()`, the cheapest #[napi] call (the published napi-rs
//                        figure is 16-50 ns a call);
// - js→rust string:      `addon.echoLen(s)` with a 60-byte string, what each chunk costs to cross;
// - sink.write:          a real ChunkSink (the per-chunk path of every chat response) drained
//                        by a tokio task;
// - rust→js→rust tsfn:   a threadsafe-function call from a tokio task to a sync JS function and
//                        its value back (the path of every chat request), timed on the Rust side;
// - tsfn + promise:      the same to an async JS function, including the promise resolution;
// - tool call:           `await backend.callTool('get_spec', …)`, the in-process tool path the
//                        AI SDK takes (async #[napi] method: the tool runs on tokio, the promise
//                        resolves back on the JS thread), tool execution included;
// - js function call:    a plain JS call, the floor of any call.
// Each figure is the median of BATCHES batches (per call: batch time / batch size) or, for the
// tsfn round trips, percentiles of individual samples. Run it on a quiet machine with a release
// addon (`backends/napi/scripts/build-addon release`); it refuses a debug build.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const addon = require(path.join(here, '..', 'backend_napi.node'));

/** Calls per timed batch: long enough that reading the clock is noise (< 0.1%). */
const BATCH = 200_000;
/** Batches per figure; the median resists the machine's other tenants. */
const BATCHES = 25;
/** Tool calls timed one by one. */
const TOOL_SAMPLES = 5_000;
const TOOL_INPUT = JSON.stringify({ id: '001-chat-sidecar-architecture' });
/** Round trips sampled individually for the threadsafe-function figures. */
const TSFN_SAMPLES = 20_000;
/** Runs of each figure thrown away first, so V8 has optimised the loop. */
const WARMUP_BATCHES = 3;
/** A typical `text-delta` chunk as it crosses into Rust. */
const CHUNK_JSON = JSON.stringify({ type: 'text-delta', id: '0', delta: 'alpha0 ' }).padEnd(60, ' ');
/** Writes between two waits for the sink's queue to drain (it holds 64). */
const SINK_BURST = 32;

if (addon.buildProfile() !== 'release' && process.env.NAPI_BENCH_ALLOW_DEBUG !== '1') {
  process.stderr.write('crossing.mjs: the addon is a debug build; run backends/napi/scripts/build-addon release\n');
  process.exit(2);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function perCall(fn) {
  const results = [];
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i += 1) fn(i);
    const ns = Number(process.hrtime.bigint() - start) / BATCH;
    if (b >= WARMUP_BATCHES) results.push(ns);
  }
  return { median_ns: median(results), min_ns: Math.min(...results), batches: BATCHES, batch: BATCH };
}

/** Times `sink.write` alone: bursts that fit the queue, with the waits for the tokio task to
 * drain it left out of the clock. */
async function sinkWrites() {
  const sink = addon.benchSink();
  const results = [];
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b += 1) {
    let elapsed = 0n;
    let written = 0;
    while (written < BATCH) {
      while (sink.queued > 0) await new Promise(setImmediate);
      const start = process.hrtime.bigint();
      for (let i = 0; i < SINK_BURST; i += 1) {
        if (!sink.write(CHUNK_JSON)) throw new Error('the sink queue was full inside a burst');
      }
      elapsed += process.hrtime.bigint() - start;
      written += SINK_BURST;
    }
    if (b >= WARMUP_BATCHES) results.push(Number(elapsed) / written);
  }
  sink.end();
  return { median_ns: median(results), min_ns: Math.min(...results), batches: BATCHES, batch: BATCH };
}

function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  return {
    n: sorted.length,
    p50_ns: percentile(sorted, 50),
    p90_ns: percentile(sorted, 90),
    p99_ns: percentile(sorted, 99),
    max_ns: sorted[sorted.length - 1],
  };
}

let accumulator = 0;
const jsFunction = (i) => {
  accumulator += i;
};

if (process.argv.includes('--noop-only')) {
  const noop = { node: process.version, js_to_rust_noop: perCall(() => addon.noop()) };
  process.stdout.write(`${JSON.stringify(noop)}\n`);
  process.exit(0);
}

const results = {
  node: process.version,
  js_function_call: perCall(jsFunction),
  js_to_rust_noop: perCall(() => addon.noop()),
  js_to_rust_string: perCall(() => addon.echoLen(CHUNK_JSON)),
  sink_write: await sinkWrites(),
};
await addon.tsfnRoundTrips((i) => i, 1000);
results.tsfn_round_trip = summarize(await addon.tsfnRoundTrips((i) => i, TSFN_SAMPLES));
await addon.tsfnPromiseRoundTrips(async (i) => i, 1000);
results.tsfn_promise_round_trip = summarize(await addon.tsfnPromiseRoundTrips(async (i) => i, TSFN_SAMPLES));

const backend = addon.Backend.create([
  'crossing.mjs',
  '--provider-url',
  'http://127.0.0.1:9/v1',
  '--specs-dir',
  path.join(here, '..', '..', '..', 'fixtures', 'specs'),
]);
const toolSamples = [];
for (let i = 0; i < TOOL_SAMPLES + 500; i += 1) {
  const start = process.hrtime.bigint();
  const outcome = JSON.parse(await backend.callTool('get_spec', TOOL_INPUT));
  const ns = Number(process.hrtime.bigint() - start);
  if (outcome.status !== 'ok') throw new Error(`get_spec failed: ${JSON.stringify(outcome)}`);
  if (i >= 500) toolSamples.push(ns);
}
results.tool_call = summarize(toolSamples);

if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  const f = (ns) => `${ns.toFixed(1)} ns`;
  const us = (ns) => `${(ns / 1000).toFixed(2)} µs`;
  process.stdout.write(
    [
      `node ${results.node}, median of ${BATCHES} batches of ${BATCH} calls`,
      `js function call          ${f(results.js_function_call.median_ns)}`,
      `js→rust noop              ${f(results.js_to_rust_noop.median_ns)}`,
      `js→rust 60-byte string    ${f(results.js_to_rust_string.median_ns)}`,
      `sink.write (one chunk)    ${f(results.sink_write.median_ns)}`,
      `rust→js→rust tsfn         p50 ${us(results.tsfn_round_trip.p50_ns)}  p99 ${us(results.tsfn_round_trip.p99_ns)}`,
      `tsfn + promise            p50 ${us(results.tsfn_promise_round_trip.p50_ns)}  p99 ${us(results.tsfn_promise_round_trip.p99_ns)}`,
      `tool call (get_spec)      p50 ${us(results.tool_call.p50_ns)}  p99 ${us(results.tool_call.p99_ns)}`,
      '',
    ].join('\n'),
  );
}
// Read once, so V8 cannot drop the plain function body as dead code.
if (accumulator === -1) process.stdout.write("");
