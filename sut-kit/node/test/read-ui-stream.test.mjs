// The oracle reads streams as useChat does: valid streams build the message, protocol violations
// and invalid chunks become error entries (never a crash), and the batch CLI answers one line per
// input line, in order.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-script.mjs';
import { readUiStream } from '../read-ui-stream.mjs';

const SCRIPT = fileURLToPath(new URL('../read-ui-stream.mjs', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../contract/tests/fixtures/ai7/', import.meta.url));

const sse = (...chunks) => chunks.map(c => `data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`).join('');
const DONE = 'data: [DONE]\n\n';

describe('readUiStream', () => {
  test('a complete text answer builds the message', async () => {
    const body =
      sse(
        { type: 'start' },
        { type: 'start-step' },
        { type: 'text-start', id: 't' },
        { type: 'text-delta', id: 't', delta: 'Hel' },
        { type: 'text-delta', id: 't', delta: 'lo' },
        { type: 'text-end', id: 't' },
        { type: 'finish-step' },
        { type: 'finish', finishReason: 'stop' },
      ) + DONE;
    const read = await readUiStream(body);
    assert.equal(read.ok, true);
    assert.equal(read.done, true);
    assert.deepEqual(read.errors, []);
    assert.deepEqual(read.message.parts, [{ type: 'step-start' }, { type: 'text', text: 'Hello', state: 'done' }]);
    assert.equal(read.chunkTypes.length, 8);
  });

  test('a text-delta without text-start is an error entry', async () => {
    const read = await readUiStream(sse({ type: 'start' }, { type: 'text-delta', id: 't', delta: 'x' }) + DONE);
    assert.equal(read.ok, false);
    assert.equal(read.errors.length, 1);
    assert.match(read.errors[0], /^AI_UIMessageStreamError: .*text-delta.*"t"/);
    assert.equal(read.done, true);
  });

  test('a tool output for an unknown tool call is an error entry', async () => {
    const read = await readUiStream(sse({ type: 'start' }, { type: 'start-step' }, { type: 'tool-output-available', toolCallId: 'nope', output: 1 }));
    assert.equal(read.ok, false);
    assert.match(read.errors[0], /No tool invocation found for tool call ID "nope"/);
    assert.equal(read.done, false);
  });

  test('a chunk that fails the schema, or is not JSON, stops the read with an error', async () => {
    const unknown = await readUiStream(sse({ type: 'bogus' }, { type: 'start' }) + DONE);
    assert.deepEqual(unknown.chunkTypes, []);
    assert.match(unknown.errors[0], /^AI_TypeValidationError: .*bogus/);
    assert.ok(!unknown.errors[0].includes('\n'), 'the schema dump is cut to its first line');
    const garbage = await readUiStream(sse({ type: 'start' }, 'not json') + DONE);
    assert.deepEqual(garbage.chunkTypes, ['start']);
    assert.match(garbage.errors[0], /^AI_JSONParseError/);
  });

  test('an error chunk is reported with its text and reading goes on', async () => {
    const read = await readUiStream(
      sse({ type: 'start' }, { type: 'start-step' }, { type: 'text-start', id: 't' }, { type: 'text-delta', id: 't', delta: 'part' }, { type: 'error', errorText: 'provider returned HTTP 500' }) + DONE,
    );
    assert.deepEqual(read.errors, ['provider returned HTTP 500']);
    assert.equal(read.message.parts[1].text, 'part');
    assert.equal(read.chunkTypes.at(-1), 'error');
  });

  test('every stream captured from ai@6 reads without a protocol error', async () => {
    const files = (await readdir(FIXTURES)).filter(f => f.endsWith('.sse'));
    assert.ok(files.length > 10);
    for (const file of files) {
      const body = await readFile(join(FIXTURES, file), 'utf8');
      // A response that continues the request's last assistant message is read on top of it.
      const request = file.startsWith('response-') ? JSON.parse(await readFile(join(FIXTURES, file.replace(/^response-(.*)\.sse$/, 'request-$1.json')), 'utf8')) : null;
      const last = request?.messages.at(-1);
      const read = await readUiStream(body, { message: last?.role === 'assistant' ? last : undefined });
      assert.equal(read.done, true, file);
      const errorTexts = body.match(/"type":"error","errorText":"[^"]*"/g)?.map(m => JSON.parse(`{${m}}`).errorText) ?? [];
      assert.deepEqual(read.errors, errorTexts, `${file}: only its error chunks are errors`);
    }
  });
});

const runCli = (input, args = []) => runScript(SCRIPT, args, input);

describe('read-ui-stream.mjs (batch CLI)', () => {
  test('answers one line per input line, in order, with the id', async () => {
    const good = sse({ type: 'start' }, { type: 'finish' }) + DONE;
    const bad = sse({ type: 'text-delta', id: 'x', delta: 'y' });
    const input = [{ id: 'a', sse: good }, { id: 'b', sse: bad }, { id: 'c', sse: good }].map(l => JSON.stringify(l)).join('\n');
    const { code, stdout } = await runCli(`${input}\n`);
    assert.equal(code, 0);
    const lines = stdout.trim().split('\n').map(l => JSON.parse(l));
    assert.deepEqual(lines.map(l => [l.id, l.ok]), [['a', true], ['b', false], ['c', true]]);
    assert.deepEqual(Object.keys(lines[0]).sort(), ['chunkTypes', 'done', 'errors', 'id', 'message', 'ok']);
  });

  test('a malformed input line gets an answer line and exit code 2', async () => {
    const { code, stdout } = await runCli('not json\n{"id":"n"}\n');
    assert.equal(code, 2);
    const lines = stdout.trim().split('\n').map(l => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.match(lines[0].errors[0], /^input: input line is not JSON/);
    assert.deepEqual([lines[1].id, lines[1].errors], ['n', ['input: input line has no string "sse" field']]);
  });

  test('an unexpected argument is a usage error on stderr', async () => {
    const { code, stdout, stderr } = await runCli('', ['--frobnicate']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /unexpected argument "--frobnicate"/);
  });
});
