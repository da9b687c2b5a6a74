// What `errorText` a UI message stream carries, shared by every JS runtime of the project
// (this package's reference runs and the sidecar) so that all backends agree on it.
//
// ai@6's `toUIMessageStream` passes every error through `onError`, whose default returns
// "An error occurred." for all of them, tool failures included. The project's choice:
//
// - A tool failure (the Rust tool answered `{"status":"error","message":...}`, or a REST tool
//   route answered non-2xx) is a result the model sees anyway; its message is ours, carries no
//   secret, and is what the `tool-error` scenario's answer quotes. It goes through verbatim, so
//   `tool-output-error.errorText` equals the Rust tool's message in every backend.
// - Anything else (the provider failed, a chunk did not parse, the stream was cut, a tool input
//   failed validation) is masked as the SDK masks it by default: provider error bodies can carry
//   internals, and their exact wording differs between the AI SDK and async-openai. The real error
//   goes to the server's log (stderr).
//
// A tool signals a failure by throwing `ToolFailure`; any other throw from a tool is masked too,
// since it is a bug of the glue code rather than a message meant for the user.

/** The `errorText` of every error that is not a tool failure; equal to ai@6's default. */
export const MASKED_ERROR_TEXT = 'An error occurred.';

/** Thrown by a tool's `execute` for a failure whose message the user and the model may see. */
export class ToolFailure extends Error {
  constructor(message) {
    super(message);
    this.name = 'ToolFailure';
  }
}

/** The `onError` for `toUIMessageStream` / `pipeUIMessageStreamToResponse`. */
export function uiErrorText(error) {
  return error instanceof ToolFailure ? error.message : MASKED_ERROR_TEXT;
}
