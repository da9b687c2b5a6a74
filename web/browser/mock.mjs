// What the browser cases ask the mock provider directly: the text it sends for a directive (its
// non-streamed answer is the same script, whole), and its timeline of a tagged request.

import { DEFAULT_MODEL } from '../../contract/js/contract.mjs';

/** A client-side guard against a wedged mock, not a measurement. */
const MOCK_TIMEOUT_MS = 15_000;
/** How long a request may take to be recorded as ended after the client left. */
const SETTLE_TIMEOUT_MS = 10_000;
const SETTLE_POLL_MS = 50;

/**
 * The text the mock sends for `scenario` with `options`, asked without streaming and without
 * its delays: the text of `text`, `long` and `unicode` depends on `chunks` alone.
 */
export async function expectedText(mockUrl, scenario = 'text', options = '') {
  const directive = `[[scenario:${scenario} ${options} ttft_ms=0 gap_ms=0]]`;
  const response = await fetch(`${mockUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: DEFAULT_MODEL, stream: false, messages: [{ role: 'user', content: directive }] }),
    signal: AbortSignal.timeout(MOCK_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`the mock answered ${response.status} for ${directive}: ${await response.text()}`);
  const body = await response.json();
  return body.choices[0].message.content;
}

/** The mock's requests tagged `tag`, once none is still in progress (or the wait ran out). */
export async function settledTimeline(mockUrl, tag) {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(`${mockUrl}/__mock/timeline?tag=${encodeURIComponent(tag)}`, {
      signal: AbortSignal.timeout(MOCK_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`the mock's timeline answered ${response.status}`);
    const { requests } = await response.json();
    if (requests.every(r => r.outcome !== 'in_progress') || Date.now() > deadline) return requests;
    await new Promise(resolve => setTimeout(resolve, SETTLE_POLL_MS));
  }
}
