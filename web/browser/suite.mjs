// The browser suite's driver: plays the cases of cases.mjs on the chat page of one backend, in
// the system's Chromium driven by playwright-core over the DevTools protocol.
//
// It is started by the Rust test stack (conformance::browser), which owns the processes under
// test, and talks JSON lines with it:
//   stdin   {"type":"run","backend","url","mockUrl","chromium","outDir","cases":[names]|null}
//           {"type":"controlled","id","ok","error"?}      the answer to a control request
//   stdout  {"type":"browser","version"}
//           {"type":"control","id","action":"stop"|"kill"|"start","rateLimit"?}
//           {"type":"case","name","ok","reason"?,"screenshot"?,"conversation"?}
//           {"type":"done"} or {"type":"fatal","error"}
// Screenshots go to outDir, named after the case (`<case>.png` when it ended, `<case>-error.png`
// for the error a failing turn showed); `conversation` marks the one the report shows.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { CASES } from './cases.mjs';
import { openPage } from './page.mjs';

/**
 * Beside what Playwright passes (headless, no sandbox, a fresh profile): no GPU in a headless
 * machine, and nothing that reaches out to the network on its own, which a closed network answers
 * with refused connections by the dozen.
 */
const CHROMIUM_FLAGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** A control request (a backend restart) waits at most this long for the Rust side. */
const CONTROL_TIMEOUT_MS = 60_000;

const emit = line => process.stdout.write(`${JSON.stringify(line)}\n`);

function listen() {
  const pending = new Map();
  let nextId = 1;
  let resolveRun;
  const run = new Promise(resolve => (resolveRun = resolve));
  const input = createInterface({ input: process.stdin });
  input.on('line', text => {
    const line = JSON.parse(text);
    if (line.type === 'run') resolveRun(line);
    if (line.type === 'controlled') pending.get(line.id)?.(line);
  });
  // The Rust side is gone: nobody will read a verdict or answer a control request.
  input.on('close', () => process.exit(2));
  async function control(action, extra = {}) {
    const id = nextId++;
    const answer = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to "${action}" within ${CONTROL_TIMEOUT_MS} ms`)), CONTROL_TIMEOUT_MS);
      pending.set(id, line => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(line);
      });
    });
    emit({ type: 'control', id, action, ...extra });
    const line = await answer;
    if (!line.ok) throw new Error(`could not ${action} the backend: ${line.error}`);
  }
  return { run, control };
}

/** The console errors a case did not expect (every uncaught exception is unexpected). */
function unexpected(problems, allowed = []) {
  return problems.filter(p => p.kind === 'exception' || !allowed.some(pattern => pattern.test(p.text)));
}

async function playCase(browser, testCase, settings) {
  const { run, control } = settings;
  const slug = testCase.name.replaceAll('/', '-');
  const file = `${slug}.png`;
  const verdict = { type: 'case', name: testCase.name, ok: true };
  let session;
  try {
    session = await openPage(browser, run.url, { viewport: testCase.viewport });
    await testCase.run({
      page: session.page,
      backendUrl: run.url,
      mockUrl: run.mockUrl,
      tag: `browser-${run.backend}-${slug}-${settings.nonce}`,
      control,
      // A picture of the page mid-case (the error a bad-input case shows), beside the final one.
      shot: label => session.page.screenshot({ path: path.join(run.outDir, `${slug}-${label}.png`), fullPage: true }),
    });
    // Every error goes to the driver's log (logs/browser/<backend>/), expected or not.
    for (const p of session.problems) process.stderr.write(`${testCase.name}: ${p.kind}: ${p.text}\n`);
    const problems = unexpected(session.problems, testCase.allowedConsole);
    if (problems.length > 0) throw new Error(`the page's console showed errors: ${problems.map(p => p.text).join(' | ')}`);
  } catch (error) {
    verdict.ok = false;
    verdict.reason = String(error?.message ?? error).split('\n')[0];
  }
  if (session) {
    try {
      await session.page.screenshot({ path: path.join(run.outDir, file), fullPage: true });
      verdict.screenshot = file;
      verdict.conversation = Boolean(testCase.conversationShot);
    } catch (error) {
      verdict.reason ??= `no screenshot: ${error.message}`;
    }
    await session.context.close().catch(() => {});
  }
  if (testCase.badInput) {
    // Whatever the case did to the backend, the next case gets a fresh, plain one.
    await control('start').catch(error => {
      verdict.ok = false;
      verdict.reason = `${verdict.reason ?? 'passed'}; then ${error.message}`;
    });
  }
  emit(verdict);
}

async function main() {
  const channel = listen();
  const run = await channel.run;
  mkdirSync(run.outDir, { recursive: true });
  const unknown = (run.cases ?? []).filter(name => !CASES.some(c => c.name === name));
  if (unknown.length > 0) {
    emit({ type: 'fatal', error: `unknown case ${unknown.join(', ')}; the cases are ${CASES.map(c => c.name).join(', ')}` });
    process.exit(1);
  }
  const selected = run.cases ? CASES.filter(c => run.cases.includes(c.name)) : CASES;
  let browser;
  try {
    browser = await chromium.launch({ executablePath: run.chromium, headless: true, args: CHROMIUM_FLAGS });
  } catch (error) {
    emit({ type: 'fatal', error: `Chromium (${run.chromium}) did not start: ${error.message.split('\n')[0]}` });
    process.exit(1);
  }
  emit({ type: 'browser', version: `Chromium ${browser.version()}` });
  const settings = { run, control: channel.control, nonce: Date.now().toString(36) };
  try {
    for (const testCase of selected) await playCase(browser, testCase, settings);
  } finally {
    await browser.close().catch(() => {});
  }
  emit({ type: 'done' });
  process.exit(0);
}

main().catch(error => {
  emit({ type: 'fatal', error: String(error?.stack ?? error) });
  process.exit(1);
});
