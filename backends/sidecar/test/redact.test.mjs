// The redactor every sidecar log line passes through (src/redact.mjs).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { redactor } from '../src/redact.mjs';

test('every occurrence of every secret is replaced', () => {
  const redact = redactor('sk-test-key', 'chat-token-1');
  assert.equal(
    redact('failed: Bearer sk-test-key, again sk-test-key; token chat-token-1'),
    'failed: Bearer [redacted], again [redacted]; token [redacted]',
  );
});

test('absent and tiny secrets are not treated as secrets', () => {
  // An empty key (a keyless local provider) or a one-letter one would blank ordinary text.
  const redact = redactor(undefined, '', 'a', 'abc');
  assert.equal(redact('a cat and abc'), 'a cat and abc');
});

test('a line that is not a string is written as its text', () => {
  assert.equal(redactor('sk-test-key')(new Error('sk-test-key leaked')), 'Error: [redacted] leaked');
  assert.equal(redactor()(42), '42');
});
