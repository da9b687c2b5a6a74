// Small helpers every script of this package shares: knowing whether a module runs as the entry
// point, failing with a clear message and a non-zero exit code, and writing JSON to stdout with
// back-pressure (stdout carries nothing but the promised JSON; diagnostics go to stderr).

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * True when the module at `metaUrl` is the script node was started with. Compared as real paths:
 * node resolves symlinks for `import.meta.url` but not for `process.argv[1]`.
 */
export function isMain(metaUrl) {
  if (process.argv[1] == null) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}

/** A usage or input error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Runs `main`, turning any failure into a message on stderr and a non-zero exit code. */
export function runMain(main, usage) {
  main().then(
    code => {
      process.exitCode = code ?? 0;
    },
    error => {
      if (error instanceof UsageError) {
        process.stderr.write(`error: ${error.message}\n\n${usage}`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`error: ${error?.stack ?? error}\n`);
        process.exitCode = 1;
      }
    },
  );
}

/** Writes one line to stdout and waits until the stream can take more. */
export function writeLine(text) {
  return new Promise((resolve, reject) => {
    process.stdout.write(`${text}\n`, error => (error ? reject(error) : resolve()));
  });
}

/** Reads all of stdin as UTF-8. */
export async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}

/** A stream of the given bytes, delivered in one piece, as a fetch body would deliver them. */
export function bytesStream(text) {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/**
 * An error as text. A plain `Error` (what an `error` chunk becomes) keeps its message verbatim;
 * a named SDK error is "<name>: <first line of its message>", because schema errors append
 * a multi-kilobyte dump of every union branch after a first line that already names the value.
 */
export function describeError(error) {
  if (!(error instanceof Error)) return String(error);
  if (!error.name || error.name === 'Error') return error.message;
  return `${error.name}: ${error.message.split('\n', 1)[0]}`;
}
