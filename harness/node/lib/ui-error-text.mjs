// The `errorText` a UI message stream carries, as docs/architecture.md ("Error text") fixes it
// for every backend: a fixed phrase per error class, never a provider's own message (which may
// quote request details), and a tool's own message verbatim.
//
// ai@6's `toUIMessageStream` masks every error as "An error occurred." unless it gets an
// `onError`; this module is that `onError` for the reference runs. It is written from the
// document, not copied from the sidecar, so that a parity test comparing the two catches a
// sidecar (or rust-only backend) that drifts from the rule.

import { APICallError, InvalidToolInputError, JSONParseError, NoSuchToolError, RetryError, TypeValidationError } from 'ai';

/** Thrown by a tool for a failure whose message the user and the model may see verbatim. */
export class ToolFailure extends Error {
  constructor(message) {
    super(message);
    this.name = 'ToolFailure';
  }
}

export const TEXT_UNREACHABLE = 'could not reach the provider';
export const TEXT_MALFORMED = 'provider sent a malformed chunk';
export const TEXT_TRUNCATED = 'provider stream ended unexpectedly';
export const TEXT_INTERNAL = 'internal error in the chat runtime';

/** The `onError` for `toUIMessageStream`: the documented text for any error. */
export function uiErrorText(error) {
  // After a `tool-input-error` the SDK reports the matching `tool-output-error` with only the
  // first error's message: the same phrase is recovered from it.
  if (typeof error === 'string') return invalidToolCallText(error);
  const failure = causes(error).find(e => e instanceof ToolFailure);
  if (failure) return failure.message;
  if (RetryError.isInstance(error)) return uiErrorText(error.lastError);
  if (APICallError.isInstance(error)) {
    if (error.statusCode == null) return TEXT_UNREACHABLE;
    return error.statusCode >= 400 ? `provider returned HTTP ${error.statusCode}` : TEXT_TRUNCATED;
  }
  if (JSONParseError.isInstance(error) || TypeValidationError.isInstance(error)) return TEXT_MALFORMED;
  if (NoSuchToolError.isInstance(error)) return `unknown tool: ${error.toolName}`;
  if (InvalidToolInputError.isInstance(error)) return `invalid input for tool ${error.toolName}`;
  // undici's word for a connection that closed in the middle of a body.
  if (causes(error).some(e => e instanceof TypeError && e.message === 'terminated')) return TEXT_TRUNCATED;
  return TEXT_INTERNAL;
}

/** The SDK's messages for invalid tool calls (formats of the pinned `ai`; covered by tests). */
function invalidToolCallText(message) {
  const unknown = /^Model tried to call unavailable tool '([^']*)'/.exec(message);
  if (unknown) return `unknown tool: ${unknown[1]}`;
  const invalid = /^Invalid input for tool ([^:]*):/.exec(message);
  if (invalid) return `invalid input for tool ${invalid[1]}`;
  return TEXT_INTERNAL;
}

/** The error and its chain of causes, without looping on a cycle. */
function causes(error) {
  const chain = [];
  for (let e = error; e instanceof Error && !chain.includes(e); e = e.cause) chain.push(e);
  return chain;
}
