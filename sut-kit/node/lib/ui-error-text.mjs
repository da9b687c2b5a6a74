// The `errorText` a UI message stream carries, as docs/architecture.md ("Error text") fixes it
// for every backend: a fixed phrase per error class, never a provider's own message (which may
// quote request details), and a tool's own message verbatim.
//
// ai@6's `toUIMessageStream` masks every error as "An error occurred." unless it gets an
// `onError`; this module is that `onError` for the reference runs. Its logic (which error is
// which class) is written from the document, not copied from the sidecar, so that a parity test
// comparing the two catches a sidecar (or rust-only backend) that drifts from the rule; the
// phrases themselves are the contract crate's, from its generated module, as every backend's.

import { APICallError, InvalidToolInputError, JSONParseError, NoSuchToolError, RetryError, TypeValidationError } from 'ai';
import {
  INTERNAL_ERROR,
  invalidToolInput,
  PROVIDER_MALFORMED,
  PROVIDER_TRUNCATED,
  PROVIDER_UNREACHABLE,
  providerStatus,
  unknownTool,
} from '../../../contract/js/contract.mjs';

/** Thrown by a tool for a failure whose message the user and the model may see verbatim. */
export class ToolFailure extends Error {
  constructor(message) {
    super(message);
    this.name = 'ToolFailure';
  }

  // ai@7 hands the model `String(error)`: the tool's message alone, as the sidecar's does.
  toString() {
    return this.message;
  }
}

/** The `onError` for `toUIMessageStream`: the documented text for any error. */
export function uiErrorText(error) {
  // After a `tool-input-error` the SDK reports the matching `tool-output-error` with only the
  // first error's message: the same phrase is recovered from it.
  if (typeof error === 'string') return invalidToolCallText(error);
  const failure = causes(error).find(e => e instanceof ToolFailure);
  if (failure) return failure.message;
  if (RetryError.isInstance(error)) return uiErrorText(error.lastError);
  if (APICallError.isInstance(error)) {
    if (error.statusCode == null) return PROVIDER_UNREACHABLE;
    return error.statusCode >= 400 ? providerStatus(error.statusCode) : PROVIDER_TRUNCATED;
  }
  if (JSONParseError.isInstance(error) || TypeValidationError.isInstance(error)) return PROVIDER_MALFORMED;
  if (NoSuchToolError.isInstance(error)) return unknownTool(error.toolName);
  if (InvalidToolInputError.isInstance(error)) return invalidToolInput(error.toolName);
  // undici's word for a connection that closed in the middle of a body.
  if (causes(error).some(e => e instanceof TypeError && e.message === 'terminated')) return PROVIDER_TRUNCATED;
  return INTERNAL_ERROR;
}

/** The SDK's messages for invalid tool calls (formats of the pinned `ai`; covered by tests). */
function invalidToolCallText(message) {
  const unknown = /^Model tried to call unavailable tool '([^']*)'/.exec(message);
  if (unknown) return unknownTool(unknown[1]);
  const invalid = /^Invalid input for tool ([^:]*):/.exec(message);
  if (invalid) return invalidToolInput(invalid[1]);
  return INTERNAL_ERROR;
}

/** The error and its chain of causes, without looping on a cycle. */
function causes(error) {
  const chain = [];
  for (let e = error; e instanceof Error && !chain.includes(e); e = e.cause) chain.push(e);
  return chain;
}
