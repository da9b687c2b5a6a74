// Driving the chat page the way a person does (select a scenario, type, press Enter or a
// button) and reading what it shows. Everything waits on something the page or the network
// does; the timeouts are hang guards, far above what a case takes.

/**
 * How long one answer may take: a hang guard. The browser stage starts backends without provider
 * retries, whose backoff alone would be 6 s in `http-500`.
 */
export const ANSWER_TIMEOUT_MS = 60_000;
/** How long the page may take to load and render its form. */
export const LOAD_TIMEOUT_MS = 30_000;

const DESKTOP = { width: 1024, height: 800 };

/**
 * Opens the page in a fresh browser context (no shared storage between cases). Collects the
 * console's errors and the page's uncaught exceptions for the case's verdict.
 */
export async function openPage(browser, url, { viewport = DESKTOP } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('console', message => {
    if (message.type() === 'error') problems.push({ kind: 'console', text: message.text() });
  });
  page.on('pageerror', error => problems.push({ kind: 'exception', text: String(error?.message ?? error) }));
  await page.goto(url, { waitUntil: 'load', timeout: LOAD_TIMEOUT_MS });
  await page.locator('textarea[name=message]').waitFor({ timeout: LOAD_TIMEOUT_MS });
  // The picker is filled from /assets/scenarios.json: a case may only pick once it is there.
  await page.locator('select[name=scenario] option[value=text]').waitFor({ state: 'attached', timeout: LOAD_TIMEOUT_MS });
  return { page, context, problems };
}

/** Picks a scenario (`''` for none) and its options in the picker. */
export async function pickScenario(page, scenario, options = '') {
  await page.locator('select[name=scenario]').selectOption(scenario);
  if (scenario) await page.locator('input[name=options]').fill(options);
}

const isChatPost = request => request.method() === 'POST' && new URL(request.url()).pathname === '/api/chat';

/** Resolves when the next `POST /api/chat` has ended: answered in full, or failed. */
function chatRequestEnded(page, timeout) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no POST /api/chat ended within ${timeout} ms`));
    }, timeout);
    const onEnd = request => {
      if (!isChatPost(request)) return;
      off();
      resolve(request);
    };
    function off() {
      clearTimeout(timer);
      page.off('requestfinished', onEnd);
      page.off('requestfailed', onEnd);
    }
    page.on('requestfinished', onEnd);
    page.on('requestfailed', onEnd);
  });
}

/** How often a wait on the page's state looks again. */
const POLL_MS = 50;

/**
 * Evaluates `predicate(arg)` in the page until it returns something truthy, and returns that.
 * Not `page.waitForFunction`: its polling compiles the predicate inside the page, which the
 * page's Content-Security-Policy (no eval) rightly refuses.
 */
export async function poll(page, predicate, arg, { timeout = LOAD_TIMEOUT_MS, what }) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(predicate, arg);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`the page never showed ${what} within ${timeout} ms`);
    await new Promise(resolve => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Runs `trigger` (a key press or a click that sends), waits for the request to end and the page
 * to settle, and returns `'ready'` or `'error'`. A page whose request ended is past `submitted`,
 * so a settled status read then belongs to this turn, not to the one before.
 */
export async function sendAndSettle(page, trigger, { timeout = ANSWER_TIMEOUT_MS } = {}) {
  const ended = chatRequestEnded(page, timeout);
  await trigger();
  await ended;
  const settled = () => {
    const status = document.querySelector('main')?.dataset.status;
    return ['ready', 'error'].includes(status) && status;
  };
  return poll(page, settled, null, { timeout, what: 'the answer settle (ready or error)' });
}

/** Types `text` into the message field and sends it with Enter. */
export async function send(page, text, options) {
  await page.locator('textarea[name=message]').fill(text);
  return sendAndSettle(page, () => page.locator('textarea[name=message]').press('Enter'), options);
}

/** The conversation as shown: per message its role, text and tool calls. */
export function readConversation(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('.conversation > li.message')].map(li => ({
      role: li.dataset.role,
      text: [...li.querySelectorAll('[data-part=text]')].map(p => p.textContent).join(''),
      tools: [...li.querySelectorAll('[data-part=tool]')].map(tool => ({
        name: tool.dataset.tool,
        state: tool.dataset.state,
        input: tool.querySelector('[data-field=input]')?.textContent,
        output: tool.querySelector('[data-field=output]')?.textContent,
        error: tool.querySelector('[data-field=error]')?.textContent,
      })),
    })),
  );
}

/** The text of the error banner, or null when none is shown. */
export function readError(page) {
  return page.evaluate(() => document.querySelector('.error[role=alert]')?.textContent ?? null);
}

export function readDraft(page) {
  return page.locator('textarea[name=message]').inputValue();
}
