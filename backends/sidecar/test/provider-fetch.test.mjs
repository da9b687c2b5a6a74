// The provider-fetch guard on its own, with bodies split and paced exactly as a test wants them
// (the stub provider cannot cut a frame at an arbitrary byte).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { guardProviderFetch } from '../src/provider-fetch.mjs';

const encoder = new TextEncoder();
const EVENT_STREAM = { 'content-type': 'text/event-stream' };

/** A guarded fetch whose provider answers with `body` (a ReadableStream of bytes). */
async function guardedBody(body, idleTimeoutMs = 1000) {
  const fetch = guardProviderFetch({
    idleTimeoutMs,
    fetch: async () => new Response(body, { headers: EVENT_STREAM }),
  });
  return (await fetch('http://provider.invalid/v1/chat/completions', {})).body.getReader();
}

/** Reads to the end: 'complete', or the name of the error the stream failed with. */
async function drain(reader) {
  try {
    for (;;) {
      const { done } = await reader.read();
      if (done) return 'complete';
    }
  } catch (error) {
    return error.name;
  }
}

function bodyOf(pieces) {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece);
      controller.close();
    },
  });
}

describe('guardProviderFetch', () => {
  test('finds [DONE] however the body is cut into reads, and calls a body without it truncated', async () => {
    // Short bodies, so that every cut is tried; the guard does not parse frames.
    const bodies = [
      ['x\n\n[DONE]\n\n', 'complete'],
      // A multi-byte character right before the marker: bytes, not text, are searched.
      ['é[DONE]', 'complete'],
      // A `[` that starts a false match right before the real marker.
      ['[D[DONE]', 'complete'],
      ['[DON\n\n', 'ProviderTruncatedError'],
      ['DONE]\n\n', 'ProviderTruncatedError'],
    ];
    for (const [text, expected] of bodies) {
      const bytes = encoder.encode(text);
      // Every cut into three reads, empty reads included.
      for (let i = 0; i <= bytes.length; i += 1) {
        for (let j = i; j <= bytes.length; j += 1) {
          const pieces = [bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)];
          const outcome = await drain(await guardedBody(bodyOf(pieces)));
          assert.equal(outcome, expected, `${JSON.stringify(text)} cut at ${i} and ${j}`);
        }
      }
    }
  });

  test('a provider silent between two chunks for the idle timeout fails the body', async () => {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode('data: {"x":1}\n\n'));
      },
    });
    const reader = await guardedBody(body, 50);
    assert.equal((await reader.read()).done, false);
    await assert.rejects(reader.read(), { name: 'ProviderIdleError' });
  });

  test('a consumer slower than the idle timeout is not a silent provider', async () => {
    const frames = ['data: {"x":1}\n\n', 'data: {"x":2}\n\n', 'data: [DONE]\n\n'];
    const reader = await guardedBody(bodyOf(frames.map((f) => encoder.encode(f))), 30);
    let read = 0;
    for (;;) {
      // Nothing is outstanding while the consumer sleeps, so the timer may fire: it must not count.
      await sleep(90);
      const { done } = await reader.read();
      if (done) break;
      read += 1;
    }
    assert.equal(read, frames.length);
  });
});
