import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeMessage, parseOptions, renderDirective } from '../src/directive.js';

const KEYS = ['ttft_ms', 'gap_ms', 'chunks', 'tag'];

test('options are key=value words with known keys', () => {
  assert.deepEqual(parseOptions('  chunks=5   gap_ms=100 ', KEYS), { ok: true, words: ['chunks=5', 'gap_ms=100'] });
  assert.deepEqual(parseOptions('', KEYS), { ok: true, words: [] });
  assert.match(parseOptions('chunks', KEYS).problem, /not key=value/);
  assert.match(parseOptions('=5', KEYS).problem, /not key=value/);
  assert.match(parseOptions('chunks=', KEYS).problem, /not key=value/);
  assert.match(parseOptions('color=red', KEYS).problem, /unknown option “color”; known: ttft_ms, gap_ms, chunks, tag/);
  assert.match(parseOptions('tag=a]]b', KEYS).problem, /brackets/);
});

test('the directive goes on a line of its own after the text', () => {
  assert.equal(renderDirective('', ['chunks=5']), '');
  assert.equal(renderDirective('long', []), '[[scenario:long]]');
  assert.equal(renderDirective('long', ['chunks=5', 'tag=x']), '[[scenario:long chunks=5 tag=x]]');
  assert.equal(composeMessage('  hi  ', ''), 'hi');
  assert.equal(composeMessage('hi', '[[scenario:text]]'), 'hi\n\n[[scenario:text]]');
  assert.equal(composeMessage('   ', '[[scenario:text]]'), '[[scenario:text]]');
});
