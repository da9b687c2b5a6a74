// The report checker sees what a reader would: a hidden chart and an empty one are reported as
// such, a console error and a request leaving the file are caught, and the screenshot is kept.
// Runs the system's Chromium, found as lib/chromium.mjs finds it ($CHROMIUM, else on PATH).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findChromium } from '../lib/chromium.mjs';
import { runScript } from './run-script.mjs';

const SCRIPT = fileURLToPath(new URL('../check-report.mjs', import.meta.url));
const CHROMIUM = findChromium();
const dir = mkdtempSync(join(tmpdir(), 'check-report-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SVG = '<svg width="200" height="100" xmlns="http://www.w3.org/2000/svg"><rect width="200" height="100" fill="#ccc"/><text x="10" y="50">label</text></svg>';

async function check(name, body) {
  assert.ok(CHROMIUM && existsSync(CHROMIUM), 'no Chromium on PATH: scripts/setup installs Debian\'s chromium, or set CHROMIUM');
  const report = join(dir, `${name}.html`);
  const screenshot = join(dir, `${name}.png`);
  writeFileSync(report, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title></head><body>${body}</body></html>`);
  const { code, stdout, stderr } = await runScript(SCRIPT, ['--report', report, '--screenshot', screenshot, '--chromium', CHROMIUM]);
  assert.equal(code, 0, stderr);
  return { seen: JSON.parse(stdout), screenshot };
}

test('a whole page: its charts and tables are seen, nothing else is requested, a screenshot is kept', async () => {
  const { seen, screenshot } = await check(
    'whole',
    `<section id="verdict"><figure class="chart" id="c1">${SVG}</figure>
     <table id="t1"><tr><th>a</th></tr><tr><td>1</td></tr></table></section>`,
  );
  assert.deepEqual(seen.sections, ['verdict']);
  assert.deepEqual(seen.charts, [{ id: 'c1', visible: true, svgs: 1, svgs_visible: true, svg_texts: 1, not_measured: false }]);
  assert.deepEqual(seen.tables, [{ id: 't1', visible: true, rows: 2 }]);
  assert.deepEqual(seen.console_errors, []);
  assert.deepEqual(seen.outside_requests, []);
  assert.match(seen.browser, /^Chromium \d+/);
  assert.equal(readFileSync(screenshot).subarray(1, 4).toString(), 'PNG');
});

test('hidden charts, console errors and outside requests are all reported', async () => {
  const { seen } = await check(
    'broken',
    `<figure class="chart" id="hidden" style="display:none">${SVG}</figure>
     <figure class="chart" id="empty"></figure>
     <figure class="chart" id="nm"><p class="not-measured">Not measured: no bench.</p></figure>
     <img src="http://127.0.0.1:9/pixel.png" alt="">
     <script>console.error('boom')</script>`,
  );
  const byId = Object.fromEntries(seen.charts.map(c => [c.id, c]));
  assert.equal(byId.hidden.visible, false);
  assert.equal(byId.empty.svgs, 0);
  assert.equal(byId.nm.not_measured, true);
  assert.ok(seen.console_errors.some(e => e.includes('boom')), JSON.stringify(seen.console_errors));
  assert.deepEqual(seen.outside_requests, ['http://127.0.0.1:9/pixel.png']);
});

test('bad usage exits 2 with the usage line', async () => {
  const { code, stderr } = await runScript(SCRIPT, ['--report', join(dir, 'x.html')]);
  assert.equal(code, 2);
  assert.match(stderr, /usage: node check-report\.mjs/);
});
