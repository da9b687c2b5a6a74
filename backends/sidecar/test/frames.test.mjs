// The `frames` wire (docs/frames.md): the codec against the bytes the Rust decoder is tested
// with (contract/tests/fixtures/frames/), and a sidecar serving streams on one upgraded
// connection: the same chunks as its SSE answer, refusals, cancellation, credit.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { FRAME_KIND, FRAME_STREAM_WINDOW } from '../../../contract/js/contract.mjs';
import { encodeFrame, FrameDecoder, FrameError } from '../src/frames.mjs';
import { coalescingWriter } from '../src/frames-session.mjs';
import { startStubProvider } from './support/stub-provider.mjs';
import {
  chatBody,
  parseSse,
  privateTempDir,
  request,
  startSidecar,
  targetOf,
  SUITE_TIMEOUT_MS,
  waitForOutput,
} from './support/sidecar.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../contract/tests/fixtures/frames');
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'cases.json'), 'utf8'));

function payloadOf(c) {
  if (c.kind === 'credit') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(c.credit);
    return b;
  }
  return Buffer.from(c.payload, 'utf8');
}

function decodeAll(bytes, cuts) {
  const decoder = new FrameDecoder();
  const out = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(from, to));
    from = to;
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f);
  }
  assert.equal(decoder.finish(), undefined);
  return out;
}

describe('frames codec', () => {
  test('encodes the shared cases to the shared bytes', () => {
    const bytes = Buffer.concat(cases.map((c) => encodeFrame(FRAME_KIND[c.kind], c.stream, payloadOf(c))));
    assert.deepEqual(bytes, fs.readFileSync(path.join(FIXTURES, 'cases.bin')));
  });

  test('decodes the shared bytes however the reads split them', () => {
    const bytes = fs.readFileSync(path.join(FIXTURES, 'cases.bin'));
    const expected = cases.map((c) => ({ kind: FRAME_KIND[c.kind], stream: c.stream, payload: payloadOf(c) }));
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      assert.deepEqual(decodeAll(bytes, [cut]), expected, `one cut at ${cut}`);
    }
    assert.deepEqual(decodeAll(bytes, Array.from({ length: bytes.length }, (_, i) => i)), expected, 'byte by byte');
  });

  test('a bad kind or an oversized frame ends its stream, and the next frame decodes', () => {
    const bad = Buffer.from([9, 0, 0, 0, 7, 0, 0, 0, 2, 0xaa, 0xbb]);
    const oversized = Buffer.from([2, 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff]);
    const good = encodeFrame(FRAME_KIND.end, 3);
    const decoder = new FrameDecoder();
    decoder.push(Buffer.concat([bad, good, oversized]));
    const [first, second, third] = [decoder.next(), decoder.next(), decoder.next()];
    assert.ok(first instanceof FrameError && first.stream === 7, String(first));
    assert.deepEqual(second, { kind: FRAME_KIND.end, stream: 3, payload: Buffer.alloc(0) });
    assert.ok(third instanceof FrameError && third.stream === 8, String(third));
    decoder.push(Buffer.alloc(1024));
    assert.equal(decoder.next(), undefined, 'the oversized payload is skipped');
  });

  test('a connection ending inside a frame names its stream', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame(FRAME_KIND.chunk, 5, '{"type":"start"}').subarray(0, 12));
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.finish()?.stream, 5);
  });
});

describe('frames writer', () => {
  test('every frame queued in one event-loop turn leaves in one corked write', async () => {
    const calls = [];
    const socket = {
      destroyed: false,
      cork: () => calls.push('cork'),
      uncork: () => calls.push('uncork'),
      write: (frame) => calls.push(frame.length),
    };
    const writer = coalescingWriter(socket);
    writer.send(encodeFrame(FRAME_KIND.chunk, 1, 'a'));
    writer.send(encodeFrame(FRAME_KIND.chunk, 2, 'bb'));
    await Promise.resolve();
    writer.send(encodeFrame(FRAME_KIND.end, 1));
    assert.deepEqual(calls, ['cork', 10, 11, 9], 'held until the turn ends, microtasks included');
    await new Promise((resolve) => setImmediate(resolve));
    writer.send(encodeFrame(FRAME_KIND.end, 2));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['cork', 10, 11, 9, 'uncork', 'cork', 9, 'uncork']);
  });
});

/** An upgraded frames connection to a sidecar: `send(kind, stream, payload)`, frames by stream. */
async function connectFrames(target) {
  const socket = net.connect(target.socketPath ? { path: target.socketPath } : { host: target.host, port: target.port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write('GET /frames HTTP/1.1\r\nHost: sidecar\r\nConnection: Upgrade\r\nUpgrade: leanspec-frames\r\n\r\n');
  const decoder = new FrameDecoder();
  const frames = [];
  const waiters = [];
  let head = '';
  let upgraded;
  const status = new Promise((resolve) => (upgraded = resolve));
  socket.on('data', (bytes) => {
    if (head !== undefined) {
      head += bytes.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded(head.slice(0, end));
      bytes = Buffer.from(head.slice(end + 4), 'latin1');
      head = undefined;
    }
    decoder.push(bytes);
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) frames.push(f);
    for (const w of [...waiters]) w();
  });
  const until = (predicate) =>
    new Promise((resolve) => {
      const check = () => {
        if (!predicate(frames)) return;
        waiters.splice(waiters.indexOf(check), 1);
        resolve(frames);
      };
      waiters.push(check);
      check();
    });
  return {
    status,
    frames,
    send: (kind, stream, payload) => socket.write(encodeFrame(kind, stream, payload)),
    ended: (stream) => until((fs) => fs.some((f) => f.stream === stream && (f.kind === FRAME_KIND.end || f.kind === FRAME_KIND.error))),
    count: (stream, n) => until((fs) => fs.filter((f) => f.stream === stream).length >= n),
    close: () => socket.destroy(),
  };
}

/** A stub provider and a sidecar on a Unix socket for one suite, with `env` beside the basics. */
function sidecarForSuite(env = {}) {
  const suite = {};
  before(async () => {
    suite.provider = await startStubProvider();
    suite.dir = privateTempDir();
    suite.sidecar = await startSidecar({
      LEANSPEC_CHAT_SOCKET: path.join(suite.dir, 'chat.sock'),
      LEANSPEC_PROVIDER_URL: suite.provider.url,
      LEANSPEC_NO_TOOLS: '1',
      ...env,
    });
    suite.target = targetOf(suite.sidecar.ready.url);
  });
  after(async () => {
    await suite.sidecar?.stop();
    await suite.provider?.close();
    if (suite.dir) fs.rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}

describe('frames sessions', { timeout: SUITE_TIMEOUT_MS }, () => {
  const suite = sidecarForSuite();

  test('streams on one connection carry the same chunks as the SSE answer, interleaved', async () => {
    const sse = await request(suite.target, { method: 'POST', path: '/api/chat', body: chatBody('hello [[scenario:text]]') });
    const expected = parseSse(sse.text);
    assert.ok(expected.done);
    const conn = await connectFrames(suite.target);
    assert.match(await conn.status, /^HTTP\/1.1 101/);
    const body = JSON.stringify(chatBody('hello [[scenario:text]]'));
    conn.send(FRAME_KIND.open, 1, body);
    conn.send(FRAME_KIND.open, 2, body);
    await Promise.all([conn.ended(1), conn.ended(2)]);
    for (const stream of [1, 2]) {
      const mine = conn.frames.filter((f) => f.stream === stream);
      assert.equal(mine.at(-1).kind, FRAME_KIND.end);
      const chunks = mine.slice(0, -1).map((f) => (assert.equal(f.kind, FRAME_KIND.chunk), JSON.parse(f.payload)));
      const shape = (c) => ({ ...c, ...(c.messageId ? { messageId: 'id' } : {}), ...(c.id ? { id: 'id' } : {}) });
      assert.deepEqual(chunks.map(shape), expected.chunks.map(shape));
    }
    conn.close();
  });

  test('a refused request is an error frame with the JSON error body', async () => {
    const conn = await connectFrames(suite.target);
    conn.send(FRAME_KIND.open, 7, '{"messages":[]}');
    conn.send(FRAME_KIND.open, 8, 'not json');
    await Promise.all([conn.ended(7), conn.ended(8)]);
    for (const stream of [7, 8]) {
      const [only] = conn.frames.filter((f) => f.stream === stream);
      assert.equal(only.kind, FRAME_KIND.error);
      assert.equal(JSON.parse(only.payload).error.code, 'invalid_request');
    }
    conn.close();
  });

  test("the open frame's request id names the stream in its failure line", async () => {
    const conn = await connectFrames(suite.target);
    const body = { ...chatBody('Hi [[scenario:malformed]]'), requestId: 'req-frames-1' };
    conn.send(FRAME_KIND.open, 9, JSON.stringify(body));
    await conn.ended(9);
    await waitForOutput(suite.sidecar, (output) => output.stderr.includes('[request req-frames-1]'));
    conn.close();
  });

  test('a cancel aborts its provider request and is answered with end', async () => {
    const conn = await connectFrames(suite.target);
    const before = suite.provider.requests.length;
    conn.send(FRAME_KIND.open, 3, JSON.stringify(chatBody('go on [[scenario:stall]]')));
    conn.send(FRAME_KIND.open, 4, JSON.stringify(chatBody('hello [[scenario:text]]')));
    await conn.ended(4);
    while (suite.provider.requests.length < before + 2) await new Promise((r) => setTimeout(r, 10));
    const stalled = suite.provider.requests.find((r, i) => i >= before && JSON.stringify(r.body).includes('scenario:stall'));
    conn.send(FRAME_KIND.cancel, 3);
    await conn.ended(3);
    assert.equal(await stalled.closedEarly, true, 'the cancel reached the provider');
    conn.close();
  });

  test('a stream stops at its credit, the others go on, and a grant lets it finish', async () => {
    const conn = await connectFrames(suite.target);
    conn.send(FRAME_KIND.open, 5, JSON.stringify(chatBody('hello [[scenario:long]]')));
    await conn.count(5, FRAME_STREAM_WINDOW);
    // Another stream on the same connection finishes while stream 5 waits for credit.
    conn.send(FRAME_KIND.open, 6, JSON.stringify(chatBody('hello [[scenario:text]]')));
    await conn.ended(6);
    const held = conn.frames.filter((f) => f.stream === 5);
    assert.equal(held.length, FRAME_STREAM_WINDOW, 'no chunk past the window');
    assert.ok(held.every((f) => f.kind === FRAME_KIND.chunk));
    const grant = Buffer.alloc(4);
    grant.writeUInt32BE(1000);
    conn.send(FRAME_KIND.credit, 5, grant);
    await conn.ended(5);
    const all = conn.frames.filter((f) => f.stream === 5);
    assert.ok(all.length > FRAME_STREAM_WINDOW + 1);
    assert.equal(all.at(-1).kind, FRAME_KIND.end);
    conn.close();
  });
});

describe('frames sessions at their limits', { timeout: SUITE_TIMEOUT_MS }, () => {
  const suite = sidecarForSuite({ LEANSPEC_MAX_STREAMS: '1', LEANSPEC_CLIENT_STALL_MS: '200' });

  test('one stream past the limit is refused as unavailable before it reaches the provider, and logged', async () => {
    const conn = await connectFrames(suite.target);
    const before = suite.provider.requests.length;
    conn.send(FRAME_KIND.open, 1, JSON.stringify(chatBody('wait [[scenario:stall]]')));
    await conn.count(1, 1);
    // The stream's first frame can leave before its provider request arrives (on Node 20 it
    // does), so the count below starts from the request having arrived.
    while (suite.provider.requests.length < before + 1) await new Promise((r) => setTimeout(r, 10));
    conn.send(FRAME_KIND.open, 2, JSON.stringify({ ...chatBody('Hi'), requestId: 'req-frames-refused' }));
    await conn.ended(2);
    const [only] = conn.frames.filter((f) => f.stream === 2);
    assert.equal(only.kind, FRAME_KIND.error);
    const { error } = JSON.parse(only.payload);
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /at its limit of 1 streams in flight/);
    await waitForOutput(suite.sidecar, (o) => o.stderr.includes('answered 503 [request req-frames-refused]'));
    assert.equal(suite.provider.requests.length, before + 1, 'the refused stream never reached the provider');
    // Once the first stream is gone, its place is free again.
    conn.send(FRAME_KIND.cancel, 1);
    await conn.ended(1);
    conn.send(FRAME_KIND.open, 3, JSON.stringify(chatBody('hello [[scenario:text]]')));
    await conn.ended(3);
    assert.equal(conn.frames.filter((f) => f.stream === 3).at(-1).kind, FRAME_KIND.end);
    conn.close();
  });

  test('a stream whose credit does not come within the stall limit ends in error and aborts its provider request', async () => {
    const conn = await connectFrames(suite.target);
    const before = suite.provider.requests.length;
    conn.send(FRAME_KIND.open, 4, JSON.stringify({ ...chatBody('go [[scenario:flood]]'), requestId: 'req-frames-stalled' }));
    // No grant: the stream sends its window, then waits for a credit that never comes.
    await conn.ended(4);
    const mine = conn.frames.filter((f) => f.stream === 4);
    assert.equal(mine.length, FRAME_STREAM_WINDOW + 1, 'the window, then the end');
    assert.equal(mine.at(-1).kind, FRAME_KIND.error);
    assert.equal(JSON.parse(mine.at(-1).payload).error.code, 'unavailable');
    await waitForOutput(suite.sidecar, (o) => o.stderr.includes('client took nothing for 200 ms: stream ended, provider request aborted [request req-frames-stalled]'));
    assert.equal(await suite.provider.requests[before].closedEarly, true, 'the provider request was aborted');
    conn.close();
  });
});
