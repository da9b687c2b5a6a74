// What a chat response holds in the sidecar for a client that stopped reading: the AI SDK's
// writer waits for `drain` once Node's buffer for the response passes its high-water mark, so
// the mark is what each stalled stream buffers in the process (docs/crash.md#where-a-stalled-streams-time-goes).
// In-process, from the sources (the routes are not a bundle of their own), with a chat function
// that never ends: nothing but the response's own buffer can hold the chunks.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import stream from 'node:stream';
import { describe, test } from 'node:test';

import { createChatServer, RESPONSE_HIGH_WATER_MARK } from '../src/routes.mjs';
import { chatBody, privateTempDir, SUITE_TIMEOUT_MS } from './support/sidecar.mjs';

/** Node 22 and later buffer this much by default: the case the mark exists for, on any Node. */
const NODE_22_DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** One UI chunk of the endless answer below, as an SSE event, is far below this. */
const ONE_CHUNK_SLACK = 1024;
/** Backpressure reached the chat function: it was asked for nothing more for this long. */
const QUIET_MS = 500;

/** A chat function whose answer never ends; counts the chunks the writer pulled. */
function endlessChat() {
  const chat = {
    pulled: 0,
    streamChat: async (_body, signal) =>
      new ReadableStream(
        {
          start(controller) {
            controller.enqueue({ type: 'start' });
            controller.enqueue({ type: 'text-start', id: 't' });
          },
          pull(controller) {
            if (signal.aborted) return controller.close();
            chat.pulled += 1;
            controller.enqueue({ type: 'text-delta', id: 't', delta: 'word ' });
          },
        },
        { highWaterMark: 0 },
      ),
  };
  return chat;
}

describe('a chat response for a client that stopped reading', { timeout: SUITE_TIMEOUT_MS }, () => {
  test('buffers at most the high-water mark in the sidecar, whatever Node would by default', async () => {
    stream.setDefaultHighWaterMark(false, NODE_22_DEFAULT_HIGH_WATER_MARK);
    const dir = privateTempDir();
    const chat = endlessChat();
    const server = createChatServer({ chat, log: () => {} });
    const responses = [];
    server.on('request', (_req, res) => responses.push(res));
    const socketPath = path.join(dir, 'chat.sock');
    await new Promise((resolve) => server.listen(socketPath, resolve));
    const client = net.connect(socketPath);
    try {
      const body = JSON.stringify(chatBody('Go'));
      client.write(
        `POST /api/chat HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // The first bytes arrive, then the client stops reading and keeps the connection.
      await new Promise((resolve) => client.once('data', resolve));
      client.pause();
      // Once the kernel's buffers are full the writer waits for `drain`, and pulls nothing more.
      let seen = -1;
      while (seen !== chat.pulled) {
        seen = chat.pulled;
        await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      }
      const [res] = responses;
      assert.ok(res.writableNeedDrain, 'the writer waits for the client');
      assert.ok(chat.pulled > 0);
      assert.ok(
        res.writableLength <= RESPONSE_HIGH_WATER_MARK + ONE_CHUNK_SLACK,
        `a stalled stream buffers ${res.writableLength} bytes in the sidecar, over the ${RESPONSE_HIGH_WATER_MARK}-byte mark`,
      );
    } finally {
      client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
