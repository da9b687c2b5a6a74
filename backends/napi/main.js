'use strict';
// The napi backend's entry: `node backends/napi/main.js <common flags>`.
//
// One Node.js process. The Rust server (the same shell as every backend: flags, routes, limits,
// errors) is an addon running on a tokio runtime inside this process; the AI SDK chat function
// (the sidecar package's bundled `dist/chat.mjs`) runs on this process's JS thread. Rust reaches
// JS through a threadsafe function; JS reaches Rust tools through an exported async function.
//
// This file parses nothing itself: the addon parses `process.argv` exactly as the other
// backends parse theirs, prints the ready line once `/health` answers, and logs to stderr.
// SIGTERM / SIGINT stop the server gracefully; the process then exits on its own because
// nothing is left on the event loop. No `uncaughtException` handler is installed on purpose:
// an uncaught exception (the `__crash` tool's) kills the process, which is this architecture's
// documented failure mode.

const path = require('node:path');
const { pathToFileURL } = require('node:url');

const { createChatHandler } = require('./lib/chat-handler.js');

const ADDON_PATH = path.join(__dirname, 'backend_napi.node');
// A stack with an AI SDK of its own (`napi@node20-ai6`) names its bundles' folder in
// ARENA_SDK_DIST (contract::runtime::SDK_DIST_ENV); otherwise the sidecar package's own.
const CHAT_BUNDLE = path.join(process.env.ARENA_SDK_DIST || path.join(__dirname, '..', 'sidecar', 'dist'), 'chat.mjs');
/** If the event loop has not drained this long after the server stopped, a handle leaked: say so
 * and exit non-zero rather than linger (the contract allows 2 s for a clean shutdown). */
const EXIT_WATCHDOG_MS = 1500;
/** Exit status for "stopped, but something kept the process alive". */
const EXIT_LEAKED_HANDLE = 70;

function loadAddon() {
  try {
    return require(ADDON_PATH);
  } catch (error) {
    process.stderr.write(
      `cannot load the napi addon ${ADDON_PATH}: ${error.message}\n` +
        'build it first: backends/napi/scripts/build-addon release\n',
    );
    process.exit(1);
  }
}

async function loadChatModule() {
  try {
    return await import(pathToFileURL(CHAT_BUNDLE).href);
  } catch (error) {
    process.stderr.write(
      `cannot load the chat function ${CHAT_BUNDLE}: ${error.message}\n` +
        'build it first: npm ci --prefix backends/sidecar && npm run build --prefix backends/sidecar\n',
    );
    process.exit(1);
  }
}

async function main() {
  const addon = loadAddon();
  const argv = process.argv.slice(1);
  const usage = addon.checkArgs(argv);
  if (usage !== null && usage !== undefined) {
    (usage.toStderr ? process.stderr : process.stdout).write(usage.message);
    process.exitCode = usage.exitCode;
    return;
  }

  const backend = addon.Backend.create(argv);
  const chatModule = await loadChatModule();
  const log = (line) => backend.log(line);
  const chat = chatModule.createChat({
    providerUrl: backend.providerUrl,
    apiKey: process.env.OPENAI_API_KEY,
    model: backend.model,
    toolDefinitions: JSON.parse(backend.toolDefinitionsJson()),
    callTool: async (name, input, { requestId } = {}) =>
      JSON.parse(await backend.callTool(name, JSON.stringify(input ?? {}), requestId)),
    idleTimeoutMs: backend.idleTimeoutMs,
    maxRetries: backend.maxRetries,
    log,
  });
  const handleChat = createChatHandler({
    chat,
    ChatInputError: chatModule.ChatInputError,
    faultInjection: backend.faultInjection,
    log,
  });

  const stop = () => backend.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    // Resolves once the server has stopped and every request has ended.
    // `/health/runtime` asks the JS thread for V8's own figures (docs/soak.md#the-samples).
    await backend.serve(handleChat, () => JSON.stringify({ pid: process.pid, ...process.memoryUsage() }));
  } finally {
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGINT', stop);
  }
  setTimeout(() => {
    process.stderr.write(
      `napi backend: the server stopped but the process is still alive after ${EXIT_WATCHDOG_MS} ms ` +
        '(a leaked handle); exiting\n',
    );
    process.exit(EXIT_LEAKED_HANDLE);
  }, EXIT_WATCHDOG_MS).unref();
}

main().catch((error) => {
  process.stderr.write(`napi backend failed: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
