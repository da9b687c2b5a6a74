// The `[[scenario:NAME key=value ...]]` directive the page appends to a message, so that the mock
// provider plays that scenario (it reads the directive from the last user message). The names
// and parameter keys come from the server (`/assets/scenarios.json`, built from the contract
// crate's catalogue); this module only composes and checks what the person typed.

const OPEN = '[[scenario:';
const CLOSE = ']]';

/**
 * Checks the options field (`chunks=5 gap_ms=100`) against the known parameter keys. Returns
 * `{ok: true, words}` or `{ok: false, problem}` with a sentence saying what to fix.
 */
export function parseOptions(text, knownKeys) {
  const words = text.trim().split(/\s+/).filter(Boolean);
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0 || eq === word.length - 1) {
      return { ok: false, problem: `“${word}” is not key=value (for example chunks=5)` };
    }
    const key = word.slice(0, eq);
    if (!knownKeys.includes(key)) {
      return { ok: false, problem: `unknown option “${key}”; known: ${knownKeys.join(', ')}` };
    }
    if (word.includes('[') || word.includes(']')) {
      return { ok: false, problem: `“${word}” may not contain brackets` };
    }
  }
  return { ok: true, words };
}

/** The directive for a scenario and its checked option words; empty for no scenario. */
export function renderDirective(scenario, words = []) {
  if (!scenario) return '';
  return `${OPEN}${[scenario, ...words].join(' ')}${CLOSE}`;
}

/** The message text sent: what the person wrote, then the directive on a line of its own. */
export function composeMessage(text, directive) {
  const body = text.trim();
  if (!directive) return body;
  return body ? `${body}\n\n${directive}` : directive;
}
