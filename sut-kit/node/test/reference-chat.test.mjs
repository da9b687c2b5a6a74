// The reference run's pieces that need no provider: the error-text rule of docs/architecture.md
// and the CLI's handling of bad usage.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-script.mjs';
import { APICallError, InvalidToolInputError, JSONParseError, NoSuchToolError, RetryError } from 'ai';
import { ToolFailure, uiErrorText } from '../lib/ui-error-text.mjs';
import { INTERNAL_ERROR, PROVIDER_MALFORMED, PROVIDER_TRUNCATED, PROVIDER_UNREACHABLE } from '../../../contract/js/contract.mjs';

const SCRIPT = fileURLToPath(new URL('../reference-chat.mjs', import.meta.url));

const apiError = statusCode =>
  new APICallError({ message: 'secret details', url: 'http://127.0.0.1/v1/chat/completions', requestBodyValues: {}, statusCode });

describe('uiErrorText follows docs/architecture.md', () => {
  test('a tool failure keeps its own message, even when wrapped', () => {
    assert.equal(uiErrorText(new ToolFailure('spec not found: x')), 'spec not found: x');
    assert.equal(uiErrorText(new Error('wrapper', { cause: new ToolFailure('inner') })), 'inner');
  });

  test('provider failures are fixed phrases that never quote the provider', () => {
    assert.equal(uiErrorText(apiError(500)), 'provider returned HTTP 500');
    assert.equal(uiErrorText(apiError(429)), 'provider returned HTTP 429');
    assert.equal(uiErrorText(apiError(undefined)), PROVIDER_UNREACHABLE);
    assert.equal(uiErrorText(apiError(200)), PROVIDER_TRUNCATED);
    const retried = new RetryError({ message: 'gave up', reason: 'maxRetriesExceeded', errors: [apiError(503)] });
    assert.equal(uiErrorText(retried), 'provider returned HTTP 503');
    assert.equal(uiErrorText(new JSONParseError({ text: '{', cause: new Error('bad') })), PROVIDER_MALFORMED);
    assert.equal(uiErrorText(new Error('x', { cause: new TypeError('terminated') })), PROVIDER_TRUNCATED);
    assert.equal(uiErrorText(new Error('secret details')), INTERNAL_ERROR);
  });

  test('invalid tool calls name the tool, as objects and as the SDK\'s follow-up message', () => {
    const noSuch = new NoSuchToolError({ toolName: 'nope', availableTools: ['get_spec'] });
    assert.equal(uiErrorText(noSuch), 'unknown tool: nope');
    assert.equal(uiErrorText(noSuch.message), 'unknown tool: nope');
    const invalid = new InvalidToolInputError({ toolName: 'get_spec', toolInput: '{', cause: new Error('bad') });
    assert.equal(uiErrorText(invalid), 'invalid input for tool get_spec');
    assert.equal(uiErrorText(invalid.message), 'invalid input for tool get_spec');
    assert.equal(uiErrorText('something else'), INTERNAL_ERROR);
  });
});

const runCli = (args, input = '') => runScript(SCRIPT, args, input);

describe('reference-chat.mjs usage errors', () => {
  for (const [args, message, input] of [
    [[], /--base-url is required/],
    [['--base-url', 'http://127.0.0.1:1/v1'], /exactly one of --text and --body-stdin/],
    [['--base-url', 'http://127.0.0.1:1/v1', '--text', 'x', '--fake-tools', '--tools-rest', 'http://127.0.0.1:1'], /at most one of/],
    [['--base-url', 'http://127.0.0.1:1/v1', '--text', 'x', '--timeout-ms', '0'], /--timeout-ms/],
    [['--base-url', 'http://127.0.0.1:1/v1', '--wat'], /Unknown option '--wat'/],
    [['--base-url', 'http://127.0.0.1:1/v1', '--body-stdin'], /not a JSON request body/, '{'],
    [['--base-url', 'http://127.0.0.1:1/v1', '--body-stdin'], /no "messages" array/, '{"id":"x"}'],
  ]) {
    test(`${args.join(' ') || '(no arguments)'} ${input ?? ''}`, async () => {
      const { code, stdout, stderr } = await runCli(args, input);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.match(stderr, message);
    });
  }

  test('tools that cannot be loaded fail the run with exit code 1', async () => {
    const { code, stdout, stderr } = await runCli(['--base-url', 'http://127.0.0.1:9/v1', '--text', 'x', '--tools-rest', 'http://127.0.0.1:9']);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /cannot load tool definitions from http:\/\/127\.0\.0\.1:9\/api\/tools/);
  });
});
