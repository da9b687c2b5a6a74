// Secrets never reach a log line: every line the sidecar writes goes through one redactor
// built from the configured secrets (docs/architecture.md#error-text), so a line added later,
// or an error message that happens to quote a header, cannot leak them.

/** The shortest value treated as a secret: an empty or tiny one would blank ordinary text. */
const MIN_SECRET_LENGTH = 4;

/**
 * A function that replaces every occurrence of each secret in a text with `[redacted]`.
 * @param {...(string | undefined)} secrets values that must never be written; absent ones and
 *   ones shorter than `MIN_SECRET_LENGTH` are left out.
 * @returns {(text: string) => string}
 */
export function redactor(...secrets) {
  const kept = secrets.filter((s) => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH);
  if (kept.length === 0) return (text) => String(text);
  return (text) => kept.reduce((out, secret) => out.split(secret).join('[redacted]'), String(text));
}
