#!/usr/bin/env node
// Opens a rendered report.html in headless Chromium (the system's browser, driven by
// playwright-core; nothing is downloaded) and reports what a reader would see: the sections,
// the charts and tables and whether each is visible, the console's errors, and every request for
// anything other than the page itself (a self-contained report makes none). Keeps a full-page
// screenshot. Judging the answer is the caller's (harness::stages::report::browser).
//
// CLI: node sut-kit/node/check-report.mjs --report FILE --screenshot FILE.png [--chromium PATH]
//   --report FILE      the report.html to open
//   --screenshot FILE  where the full-page PNG goes (the run folder's report.png)
//   --chromium PATH    the browser (default: $CHROMIUM, else `chromium` or `chromium-browser` on
//                      PATH, as lib/chromium.mjs finds it)
// Stdout: one JSON object {"browser", "console_errors", "outside_requests", "sections",
// "charts": [{id, visible, svgs, svgs_visible, svg_texts, not_measured}],
// "tables": [{id, visible, rows}], "screenshot"}. Exit code 0 whatever the page holds, 1 when
// the browser could not open it, 2 on bad usage.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { findChromium } from './lib/chromium.mjs';
import { isMain, runMain, UsageError, writeLine } from './lib/cli.mjs';

const USAGE = `usage: node check-report.mjs --report FILE --screenshot FILE.png [--chromium PATH]
`;

// As root on a closed network: no sandbox, and no background connections (refused many at a
// time otherwise); a fresh profile per run keeps one check from seeing another's state.
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// A report is one local file: anything slower than this to load is a hang, not a slow page.
const LOAD_TIMEOUT_MS = 60_000;

/** What the page shows, measured inside it. */
function seenInPage() {
  const visible = el => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  };
  return {
    sections: [...document.querySelectorAll('section[id]')].map(s => s.id),
    charts: [...document.querySelectorAll('figure.chart')].map(f => {
      const svgs = [...f.querySelectorAll('svg')];
      return {
        id: f.id,
        visible: visible(f),
        svgs: svgs.length,
        svgs_visible: svgs.every(visible),
        svg_texts: svgs.reduce((n, s) => n + s.querySelectorAll('text').length, 0),
        not_measured: f.querySelector('.not-measured') !== null,
      };
    }),
    tables: [...document.querySelectorAll('table')].map(t => ({ id: t.id, visible: visible(t), rows: t.rows.length })),
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      report: { type: 'string' },
      screenshot: { type: 'string' },
      chromium: { type: 'string' },
    },
  });
  if (!values.report || !values.screenshot) throw new UsageError('--report and --screenshot are required');
  const executablePath = values.chromium ?? findChromium();
  if (!executablePath) throw new UsageError('no Chromium on PATH (chromium, chromium-browser): install Debian\'s `chromium`, or set CHROMIUM or --chromium');
  const pageUrl = pathToFileURL(resolve(values.report)).href;
  const profile = mkdtempSync(join(tmpdir(), 'arena-report-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleErrors = [];
    const outsideRequests = [];
    page.on('console', msg => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', error => consoleErrors.push(String(error)));
    page.on('request', request => {
      if (request.url() !== pageUrl) outsideRequests.push(request.url());
    });
    await page.goto(pageUrl, { waitUntil: 'load', timeout: LOAD_TIMEOUT_MS });
    const seen = await page.evaluate(seenInPage);
    await page.screenshot({ path: values.screenshot, fullPage: true });
    const browser = `Chromium ${context.browser()?.version() ?? ''}`.trim();
    await writeLine(
      JSON.stringify({
        browser,
        console_errors: consoleErrors,
        outside_requests: outsideRequests,
        ...seen,
        screenshot: resolve(values.screenshot),
      }),
    );
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) runMain(main, USAGE);
