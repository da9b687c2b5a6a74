// The error text a client sees in `error` and `tool-output-error` chunks.
//
// The AI SDK masks every error as "An error occurred." unless `toUIMessageStream` gets an
// `onError`. Users deserve to know what failed, but a provider's own message may echo request
// details, so the text is a fixed phrase per error class (docs/architecture.md#error-text):
// deterministic, free of secrets, and the same in every backend. The phrases come from the
// contract crate's generated module; this file keeps only the mapping from errors to them.

import {
  APICallError,
  InvalidToolInputError,
  JSONParseError,
  NoSuchToolError,
  RetryError,
  TypeValidationError,
} from 'ai';

import {
  INTERNAL_ERROR,
  invalidToolInput,
  PROVIDER_MALFORMED,
  PROVIDER_TRUNCATED,
  PROVIDER_UNREACHABLE,
  providerIdle,
  providerStatus,
  unknownTool,
} from '../../../contract/js/contract.mjs';

/** A tool that answered with an error (or could not be called): its message is the text. */
export class ToolFailure extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'ToolFailure';
  }

  // ai@7 sends the model `String(error)` (`getErrorMessage`), which for an Error is
  // `Name: message`: the model reads the tool's own message, as the client does, not our class
  // name (docs/ai7-upgrade.md).
  toString() {
    return this.message;
  }
}

/** The provider sent nothing for the idle timeout (before its headers or between chunks). */
export class ProviderIdleError extends Error {
  constructor(idleTimeoutMs) {
    super(providerIdle(formatSeconds(idleTimeoutMs)));
    this.name = 'ProviderIdleError';
  }
}

/** The provider's event stream broke off before `data: [DONE]`. */
export class ProviderTruncatedError extends Error {
  constructor(options) {
    super(PROVIDER_TRUNCATED, options);
    this.name = 'ProviderTruncatedError';
  }
}

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
    if (error.statusCode == null) return PROVIDER_UNREACHABLE;
    if (error.statusCode >= 400) return providerStatus(error.statusCode);
    // A 2xx answer whose body could not be read to the end.
    return PROVIDER_TRUNCATED;
  }
  if (JSONParseError.isInstance(error) || TypeValidationError.isInstance(error)) {
    return PROVIDER_MALFORMED;
  }
  if (NoSuchToolError.isInstance(error)) return unknownTool(error.toolName);
  if (InvalidToolInputError.isInstance(error)) return invalidToolInput(error.toolName);
  if (findCause(error, isConnectionBreak)) return PROVIDER_TRUNCATED;
  return INTERNAL_ERROR;
}

// For an invalid tool call the SDK emits `tool-input-error` (with the error object) and then a
// `tool-output-error` whose error is only that object's message: recover the same phrase from it
// (the message formats are those of the pinned `ai` version; tested).
function invalidCallText(message) {
  const unknown = /^Model tried to call unavailable tool '([^']*)'/.exec(message);
  if (unknown) return unknownTool(unknown[1]);
  const invalid = /^Invalid input for tool ([^:]*):/.exec(message);
  if (invalid) return invalidToolInput(invalid[1]);
  return INTERNAL_ERROR;
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
