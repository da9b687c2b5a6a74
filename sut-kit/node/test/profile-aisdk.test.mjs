// The profile attribution names the owner of each sample and leaves idle time out.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { attribute, owner, treeWithSdk } from '../profile-aisdk.mjs';

test('owners come from the function name and the script URL', () => {
  assert.equal(owner('writev', ''), 'socket writes');
  assert.equal(owner('(garbage collector)', ''), 'GC');
  assert.equal(owner('enqueue', 'file:///r/backends/sidecar/node_modules/ai/dist/index.mjs'), 'AI SDK: ai');
  assert.equal(owner('parse', 'file:///r/node_modules/@ai-sdk/provider-utils/dist/index.mjs'), 'AI SDK: provider-utils');
  assert.equal(owner('pull', 'node:internal/webstreams/readablestream'), 'Node Web Streams');
  assert.equal(owner('createChat', 'file:///r/backends/sidecar/src/chat.mjs'), 'ours: the sidecar code');
  assert.equal(owner('x', 'node:internal/timers'), 'Node runtime, other');
});

test('self time is summed per owner and idle is left out', () => {
  const callFrame = (functionName, url = '') => ({ functionName, url });
  const profile = {
    nodes: [
      { id: 1, callFrame: callFrame('(idle)') },
      { id: 2, callFrame: callFrame('writev') },
      { id: 3, callFrame: callFrame('transform', 'node:internal/webstreams/transformstream') },
    ],
    samples: [1, 2, 3, 2, 1],
    timeDeltas: [500, 100, 50, 100, 500],
  };
  assert.deepEqual([...attribute(profile)], [['socket writes', 200], ['Node Web Streams', 50]]);
});

test('a stack without its packages installed is a usage error naming what to run', () => {
  assert.throws(() => treeWithSdk('no-such-stack'), /no ai package in .*no-such-stack.*npm ci --prefix no-such-stack/);
});
