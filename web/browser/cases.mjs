// The browser suite's cases: the chat page against one backend, as a person uses it. Each case
// gets a fresh page; `run` throws with a sentence saying what the page got wrong. The suite checks
// the console after every case (docs/chat-page.md lists the cases and why).

import { isDeepStrictEqual } from 'node:util';
import { ERROR_STATUS, providerStatus } from '../../contract/js/contract.mjs';
import { expectedText, settledTimeline } from './mock.mjs';
import { pickScenario, poll, readConversation, readDraft, readError, send, sendAndSettle } from './page.mjs';

/**
 * The backend's rate limit in the 429 case: one request every 10 s. The page's request must
 * arrive before the bucket earns a token back, on a loaded machine too; the retry then waits at
 * most 10 s.
 */
const RATE_LIMIT = '6/min';
/** Spending the bucket is one cheap request per token (a 415: the limit is checked first). */
const MAX_SPEND_REQUESTS = 50;

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

async function getJson(url) {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

/** The last assistant message, after a turn that must have completed. */
async function answered(page, status, turns = 2) {
  expect(status === 'ready', `the answer did not complete: the page shows ${JSON.stringify(await readError(page))}`);
  const conversation = await readConversation(page);
  expect(conversation.length === turns, `expected ${turns} messages on the page, found ${conversation.length}`);
  const answer = conversation.at(-1);
  expect(answer.role === 'assistant', 'the last message shown is not the assistant\u2019s');
  return { conversation, answer };
}

function sameText(shown, sent, what) {
  if (shown === sent) return;
  let at = 0;
  while (at < shown.length && shown[at] === sent[at]) at += 1;
  throw new Error(`${what} differs from what the provider sent at character ${at}: shown ${JSON.stringify(shown.slice(at, at + 40))}, sent ${JSON.stringify(sent.slice(at, at + 40))}`);
}

/** The body of a REST route, which the matching tool's output must equal. */
async function restBodyOf(backendUrl, path) {
  const { status, body } = await getJson(`${backendUrl}${path}`);
  expect(status === 200, `GET ${path} answered ${status}`);
  return body;
}

/** A tool call's output as the page shows it, parsed; the call must have succeeded. */
function toolOutput(tool) {
  expect(tool.state === 'output-available', `tool ${tool.name} is shown as ${tool.state}, not done`);
  return JSON.parse(tool.output);
}

/**
 * After a failed turn: the banner says `phrase`, the turn is taken back, the text is kept; the
 * page is photographed as the person sees it then.
 */
async function failedAndKept({ page, shot }, status, text, phrase) {
  expect(status === 'error', `the page shows no error (status ${status})`);
  const error = await readError(page);
  expect(error?.includes(phrase), `the error shown is ${JSON.stringify(error)}, which does not say "${phrase}"`);
  await poll(
    page,
    kept => document.querySelector('textarea[name=message]').value === kept && document.querySelectorAll('.conversation > li').length === 0,
    text,
    { what: 'the message back in the input and the failed turn taken back' },
  );
  await shot('error');
}

const retry = page => () => page.getByRole('button', { name: 'Retry' }).click();

export const CASES = [
  {
    name: 'text',
    async run({ page, mockUrl }) {
      const text = 'hello from the keyboard';
      const sent = await expectedText(mockUrl);
      // Keyboard only: Tab from the top of the page to the message field, type, Enter.
      await page.evaluate(() => document.activeElement?.blur());
      for (let presses = 0; presses < 10; presses += 1) {
        if (await page.evaluate(() => document.activeElement?.name === 'message')) break;
        await page.keyboard.press('Tab');
      }
      expect(await page.evaluate(() => document.activeElement?.name === 'message'), 'Tab never reached the message field');
      const status = await sendAndSettle(page, async () => {
        await page.keyboard.type(text);
        await page.keyboard.press('Enter');
      });
      const { conversation, answer } = await answered(page, status);
      expect(conversation[0].text === text, `the user's message is shown as ${JSON.stringify(conversation[0].text)}`);
      sameText(answer.text, sent, 'the answer');
      expect((await readDraft(page)) === '', 'the message field was not emptied after sending');
    },
  },
  {
    name: 'tool-single',
    async run({ page, backendUrl }) {
      await pickScenario(page, 'tool-single');
      const { answer } = await answered(page, await send(page, 'What does the sidecar spec say?'));
      expect(answer.tools.length === 1 && answer.tools[0].name === 'get_spec', `expected one get_spec call, the page shows ${JSON.stringify(answer.tools.map(t => t.name))}`);
      const { id } = JSON.parse(answer.tools[0].input);
      const spec = await restBodyOf(backendUrl, `/api/specs/${encodeURIComponent(id)}`);
      expect(isDeepStrictEqual(toolOutput(answer.tools[0]), spec), `the tool output shown is not the body of GET /api/specs/${id}`);
      expect(answer.text.includes(`"${spec.title}"`), `the answer does not quote the spec's title "${spec.title}": ${JSON.stringify(answer.text.slice(0, 120))}`);
    },
  },
  {
    name: 'tool-chain',
    async run({ page, backendUrl }) {
      await pickScenario(page, 'tool-chain');
      const { answer } = await answered(page, await send(page, 'List the specs, then open the first.'));
      const names = answer.tools.map(t => t.name);
      expect(isDeepStrictEqual(names, ['list_specs', 'get_spec']), `expected list_specs then get_spec, the page shows ${JSON.stringify(names)}`);
      const [list, get] = answer.tools;
      expect(isDeepStrictEqual(toolOutput(list), await restBodyOf(backendUrl, '/api/specs')), 'the list_specs output shown is not the body of GET /api/specs');
      const firstId = toolOutput(list).specs[0].id;
      expect(JSON.parse(get.input).id === firstId, `get_spec was called with ${get.input}, not the first listed id ${firstId}`);
      const spec = await restBodyOf(backendUrl, `/api/specs/${encodeURIComponent(firstId)}`);
      expect(isDeepStrictEqual(toolOutput(get), spec), `the get_spec output shown is not the body of GET /api/specs/${firstId}`);
      expect(answer.text.includes(`"${spec.title}"`), `the answer does not quote "${spec.title}"`);
    },
  },
  {
    name: 'tool-error',
    async run({ page, backendUrl }) {
      await pickScenario(page, 'tool-error');
      const { answer } = await answered(page, await send(page, 'Open a spec that does not exist.'));
      const tool = answer.tools[0];
      expect(answer.tools.length === 1 && tool.state === 'output-error', `expected one failed tool call, the page shows ${JSON.stringify(answer.tools)}`);
      const { id } = JSON.parse(tool.input);
      const rest = await getJson(`${backendUrl}/api/specs/${encodeURIComponent(id)}`);
      expect(rest.status === 404, `GET /api/specs/${id} answered ${rest.status}, not 404`);
      expect(tool.error === rest.body.error.message, `the tool error shown is ${JSON.stringify(tool.error)}, not ${JSON.stringify(rest.body.error.message)}`);
      // The model reads the error as @ai-sdk/openai@4 sends it, `{"error": text}`, and quotes that.
      expect(answer.text.includes(JSON.stringify({ error: tool.error })), 'the answer does not quote the tool error');
    },
  },
  {
    name: 'unicode',
    async run({ page, mockUrl }) {
      const sent = await expectedText(mockUrl, 'unicode');
      await pickScenario(page, 'unicode');
      const { answer } = await answered(page, await send(page, 'Some text from around the world, please.'));
      sameText(answer.text, sent, 'the answer');
    },
  },
  {
    name: 'http-500',
    async run(ctx) {
      const { page, mockUrl, tag } = ctx;
      await pickScenario(page, 'http-500', `tag=${tag}`);
      const text = 'This one fails upstream.';
      await failedAndKept(ctx, await send(page, text), text, providerStatus(500));
      // Still usable: another scenario, the same text, Send.
      await pickScenario(page, 'text');
      const status = await sendAndSettle(page, () => page.getByRole('button', { name: 'Send' }).click());
      const { answer } = await answered(page, status);
      sameText(answer.text, await expectedText(mockUrl, 'text'), 'the answer after the error');
      expect((await readError(page)) === null, 'the error is still shown after a good answer');
    },
  },
  {
    name: 'second-turn',
    conversationShot: true,
    async run({ page, mockUrl }) {
      await pickScenario(page, 'tool-chain');
      await answered(page, await send(page, 'List the specs, then open the first.'));
      await pickScenario(page, '');
      const { conversation, answer } = await answered(page, await send(page, 'Thanks. And now in plain words?'), 4);
      expect(conversation[1].tools.length === 2, 'the first answer lost its tool calls in the second turn');
      sameText(answer.text, await expectedText(mockUrl), 'the second answer');
    },
  },
  {
    name: 'stop',
    async run({ page, mockUrl, tag }) {
      await pickScenario(page, 'long', `tag=${tag}`);
      const full = await expectedText(mockUrl, 'long');
      await page.locator('textarea[name=message]').fill('Tell me everything.');
      const status = await sendAndSettle(page, async () => {
        await page.locator('textarea[name=message]').press('Enter');
        await page.locator('li.message[data-role=assistant] [data-part=text]').first().waitFor();
        await page.getByRole('button', { name: 'Stop' }).click();
      });
      const { answer } = await answered(page, status);
      expect(answer.text.length > 0 && answer.text.length < full.length && full.startsWith(answer.text), `after Stop the page shows ${answer.text.length} of ${full.length} characters, not a part of the answer`);
      const requests = await settledTimeline(mockUrl, tag);
      expect(requests.length === 1, `the mock saw ${requests.length} requests tagged ${tag}`);
      const [request] = requests;
      expect(request.outcome === 'client_gone' && request.client_gone_ns != null, `the provider request was not cancelled: its outcome is ${request.outcome}`);
    },
  },
  {
    name: 'narrow-screen',
    viewport: { width: 360, height: 740 },
    async run({ page }) {
      await pickScenario(page, 'tool-single');
      await answered(page, await send(page, 'What does the sidecar spec say?'));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow <= 0, `at 360 px the page scrolls sideways by ${overflow} px`);
      for (const control of ['select[name=scenario]', 'textarea[name=message]', 'button:text-is("Send")', 'button:text-is("Stop")']) {
        const box = await page.locator(control).boundingBox();
        expect(box && box.x >= 0 && box.x + box.width <= 360, `${control} is not inside the 360 px screen`);
      }
    },
  },
  {
    name: 'bad-input/backend-down',
    badInput: true,
    // The browser reports the refused connection itself; the page adds nothing.
    allowedConsole: [/^Failed to load resource: net::ERR_CONNECTION_REFUSED/],
    async run(ctx) {
      const { page, mockUrl, control } = ctx;
      await control('stop');
      const text = 'Is anyone there?';
      await failedAndKept(ctx, await send(page, text), text, 'Cannot reach the chat server');
      await control('start');
      const { answer } = await answered(page, await sendAndSettle(page, retry(page)));
      sameText(answer.text, await expectedText(mockUrl), 'the answer after the retry');
    },
  },
  {
    name: 'bad-input/rate-limited',
    badInput: true,
    allowedConsole: [/^Failed to load resource: the server responded with a status of 429/],
    async run(ctx) {
      const { page, backendUrl, mockUrl, control } = ctx;
      await control('start', { rateLimit: RATE_LIMIT });
      await spendRateLimit(backendUrl);
      const text = 'Am I asking too often?';
      await failedAndKept(ctx, await send(page, text), text, String(ERROR_STATUS.rate_limited));
      const error = await readError(page);
      const wait = /Try again in (\d+) s/.exec(error);
      expect(wait, `the error does not say when to try again: ${JSON.stringify(error)}`);
      // As a person would: wait as long as the page says, then Retry.
      await new Promise(resolve => setTimeout(resolve, Number(wait[1]) * 1000 + 500));
      const { answer } = await answered(page, await sendAndSettle(page, retry(page)));
      sameText(answer.text, await expectedText(mockUrl), 'the answer after the retry');
    },
  },
  {
    name: 'bad-input/stream-cut',
    badInput: true,
    allowedConsole: [/^Failed to load resource: net::ERR_(INCOMPLETE_CHUNKED_ENCODING|CONNECTION_RESET)/],
    async run(ctx) {
      const { page, mockUrl, control } = ctx;
      const options = 'chunks=100 gap_ms=30';
      await pickScenario(page, 'text', options);
      const text = 'Talk slowly, please.';
      await page.locator('textarea[name=message]').fill(text);
      const status = await sendAndSettle(page, async () => {
        await page.locator('textarea[name=message]').press('Enter');
        await page.locator('li.message[data-role=assistant] [data-part=text]').first().waitFor();
        await control('kill');
      });
      await failedAndKept(ctx, status, text, 'connection to the chat server was lost');
      await control('start');
      const { answer } = await answered(page, await sendAndSettle(page, retry(page)));
      sameText(answer.text, await expectedText(mockUrl, 'text', options), 'the answer after the retry');
    },
  },
];

/** Spends the client's rate-limit bucket with requests the backend refuses cheaply (415). */
async function spendRateLimit(backendUrl) {
  for (let sent = 0; sent < MAX_SPEND_REQUESTS; sent += 1) {
    const response = await fetch(`${backendUrl}/api/chat`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'spend' });
    await response.arrayBuffer();
    if (response.status === ERROR_STATUS.rate_limited) return;
    const refused = response.status === ERROR_STATUS.unsupported_media_type;
    expect(refused, `spending the rate limit: POST /api/chat as text/plain answered ${response.status}`);
  }
  throw new Error(`the backend answered no 429 after ${MAX_SPEND_REQUESTS} requests; is --rate-limit ${RATE_LIMIT} applied?`);
}
