// The committed fixtures are exactly what the pinned ai@6 produces: capturing again into a temp
// folder gives the same bytes. After an upgrade of `ai` this fails until the fixtures are
// regenerated (node capture-ui-streams.mjs) and the diff reviewed.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runScript } from './run-script.mjs';

const SCRIPT = fileURLToPath(new URL('../capture-ui-streams.mjs', import.meta.url));
const COMMITTED = fileURLToPath(new URL('../../../contract/tests/fixtures/ai7/', import.meta.url));

test('capturing again reproduces the committed fixtures byte for byte', async () => {
  const out = await mkdtemp(join(tmpdir(), 'ai7-capture-'));
  try {
    const { code, stdout, stderr } = await runScript(SCRIPT, ['--out', out]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, '', 'the capture script prints nothing on stdout');
    const fresh = (await readdir(out)).sort();
    assert.deepEqual(fresh, (await readdir(COMMITTED)).sort(), 'the set of fixture files changed');
    for (const file of fresh) {
      const [now, then] = await Promise.all([readFile(join(out, file), 'utf8'), readFile(join(COMMITTED, file), 'utf8')]);
      assert.equal(now, then, `${file} differs: rerun node sut-kit/node/capture-ui-streams.mjs and review the diff`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
