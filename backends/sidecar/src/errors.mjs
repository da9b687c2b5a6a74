// The error text a client sees in `error` and `tool-output-error` chunks.
//
// The AI SDK masks every error as "An error occurred." unless `toUIMessageStream` gets an
// `onError`. Users deserve to know what failed, but a provider's own message may echo request
// details, so the text is a fixed phrase per error class (docs/architecture.md, "Error text"):
// deterministic, free of secrets, and reproducible by the rust-only backend.

import {
  APICallError,
  InvalidToolInputError,
  JSONParseError,
  NoSuchToolError,
  RetryError,
  TypeValidationError,
} from 'ai';

/** A tool that answered with an error (or could not be called): its message is the text. */
export class ToolFailure extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ToolFailure';
  }
}

/** The provider sent nothing for the idle timeout (before its headers or between chunks). */
export class ProviderIdleError extends Error {
  constructor(idleTimeoutMs) {
    super(`provider sent nothing for ${formatSeconds(idleTimeoutMs)} s`);
    this.name = 'ProviderIdleError';
  }
}

/** The provider's event stream broke off before `data: [DONE]`. */
export class ProviderTruncatedError extends Error {
  constructor(options) {
    super('provider stream ended unexpectedly', options);
    this.name = 'ProviderTruncatedError';
  }
}

export const TEXT_UNREACHABLE = 'could not reach the provider';
export const TEXT_MALFORMED = 'provider sent a malformed chunk';
export const TEXT_TRUNCATED = 'provider stream ended unexpectedly';
export const TEXT_INTERNAL = 'internal error in the chat runtime';

/** `onError` for `toUIMessageStream`: maps any error to the documented text. */
export function errorText(error) {
  if (typeof error === 'string') return invalidCallText(error);
  // Our own errors travel wrapped (the SDK wraps a failed body read in an APICallError).
  const own = findCause(error, (e) =>
    e instanceof ToolFailure || e instanceof ProviderIdleError || e instanceof ProviderTruncatedError,
  );
  if (own) return own.message;
  if (RetryError.isInstance(error)) return errorText(error.lastError);
  if (APICallError.isInstance(error)) {
    if (error.statusCode == null) return TEXT_UNREACHABLE;
    if (error.statusCode >= 400) return `provider returned HTTP ${error.statusCode}`;
    // A 2xx answer whose body could not be read to the end.
    return TEXT_TRUNCATED;
  }
  if (JSONParseError.isInstance(error) || TypeValidationError.isInstance(error)) {
    return TEXT_MALFORMED;
  }
  if (NoSuchToolError.isInstance(error)) return `unknown tool: ${error.toolName}`;
  if (InvalidToolInputError.isInstance(error)) return `invalid input for tool ${error.toolName}`;
  if (findCause(error, isConnectionBreak)) return TEXT_TRUNCATED;
  return TEXT_INTERNAL;
}

// For an invalid tool call the SDK emits `tool-input-error` (with the error object) and then a
// `tool-output-error` whose error is only that object's message: recover the same phrase from it
// (the message formats are those of the pinned `ai` version; tested).
function invalidCallText(message) {
  const unknown = /^Model tried to call unavailable tool '([^']*)'/.exec(message);
  if (unknown) return `unknown tool: ${unknown[1]}`;
  const invalid = /^Invalid input for tool ([^:]*):/.exec(message);
  if (invalid) return `invalid input for tool ${invalid[1]}`;
  return TEXT_INTERNAL;
}

function findCause(error, predicate) {
  const seen = new Set();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    if (predicate(current)) return current;
    seen.add(current);
  }
  return undefined;
}

// undici reports a connection that closed mid-body as `TypeError: terminated`; the body guard in
// provider-fetch.mjs usually classifies it first, this catches the remaining paths.
function isConnectionBreak(error) {
  return error instanceof TypeError && error.message === 'terminated';
}

function formatSeconds(ms) {
  const seconds = ms / 1000;
  return Number.isInteger(seconds) ? String(seconds) : seconds.toFixed(3).replace(/0+$/, '');
}
