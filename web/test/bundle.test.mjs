// dist/ is committed and compiled into every backend (backends/core/src/page.rs): it must be
// what the sources build today, byte for byte, or the backends serve a page nobody reviewed.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildPage } from '../build.mjs';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

test('the committed bundle is what the sources build', async () => {
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-page-'));
  try {
    const built = Object.keys(await buildPage(fresh)).sort();
    assert.deepEqual(fs.readdirSync(dist).sort(), built, 'dist/ holds other files than a build writes');
    for (const file of built) {
      const same = fs.readFileSync(path.join(fresh, file)).equals(fs.readFileSync(path.join(dist, file)));
      assert.ok(same, `dist/${file} is stale: run \`npm run build --prefix web\` and commit dist/`);
    }
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
});

test('the page loads nothing from another origin', () => {
  const html = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
  for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    assert.ok(url.startsWith('/') || url.startsWith('data:'), `index.html loads ${url}`);
  }
  const css = fs.readFileSync(path.join(dist, 'app.css'), 'utf8');
  assert.doesNotMatch(css, /@import|url\(\s*['"]?https?:/, 'app.css loads something from elsewhere');
});
