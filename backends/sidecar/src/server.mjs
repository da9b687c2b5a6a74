// Entry point of the Node.js sidecar: the AI SDK chat behind a private Unix socket or a
// loopback HTTP port, started and supervised by a Rust server (backends/unix, backends/http)
// or run by hand for development (README.md).
//
// Layout: config.mjs (environment) → tools-client.mjs (tool definitions and callbacks to the
// Rust side) → chat.mjs (the AI SDK call) → routes.mjs (HTTP routes) → listen.mjs (binding)
// → lifecycle.mjs (when to exit). Stdout carries exactly one line, the ready line; logs go to
// stderr and never contain the API key or tokens.

import fs from 'node:fs';

import { readyLine, SHUTDOWN_GRACE_MS } from '../../../contract/js/contract.mjs';
import { createChat } from './chat.mjs';
import { readConfig } from './config.mjs';
import { onTerminationSignals, watchParent, watchStdinPipe } from './lifecycle.mjs';
import { listenHttp, listenOnFd, listenUnix, writePortFile } from './listen.mjs';
import { acceptFrames } from './frames-session.mjs';
import { createStreamGate } from './limits.mjs';
import { redactor } from './redact.mjs';
import { bearerCheck, createChatServer } from './routes.mjs';
import { createToolsClient, waitForToolDefinitions } from './tools-client.mjs';

/** Longer than any client pool's idle timeout (docs/architecture.md). */
const KEEP_ALIVE_TIMEOUT_MS = 300_000;
// Until the configuration is read there is no secret to hide; from then on every line, the
// chat's, the routes' and both wires' included, passes the redactor.
let redact = redactor();
const log = (line) => process.stderr.write(`sidecar[${process.pid}]: ${redact(line)}\n`);

async function main() {
  const config = readConfig();
  redact = redactor(config.apiKey, config.token);
  let stopping = false;
  let server;
  let toolsClient;
  let frames;

  const stop = (reason, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log(`stopping: ${reason}`);
    // Whatever happens below, the process is gone within the grace period, inside the
    // shutdown deadline (docs/design.md#shutdown).
    setTimeout(() => process.exit(exitCode), SHUTDOWN_GRACE_MS).unref();
    toolsClient?.close();
    if (!server) process.exit(exitCode);
    server.close(() => process.exit(exitCode));
    // In-flight chats end now: closing their sockets aborts their provider requests.
    server.closeAllConnections();
    frames?.closeAll();
  };

  // Watch the parent before anything slow, so an orphan never lingers in startup.
  if (config.parentPid) watchParent(config.parentPid, stop);
  if (config.stdinLifeline) {
    if (watchStdinPipe(stop)) log('will exit when the stdin pipe closes');
    else log('LEANSPEC_STDIN_LIFELINE=1 but stdin is not a pipe: not watching it');
  }
  onTerminationSignals(stop);

  let toolDefinitions = [];
  if (config.noTools) {
    log('LEANSPEC_NO_TOOLS=1: running without tools');
  } else {
    toolsClient = createToolsClient(config.tools);
    toolDefinitions = await waitForToolDefinitions(toolsClient, { waitMs: config.tools.waitMs, log });
    log(`loaded ${toolDefinitions.length} tool definitions from ${toolsClient.where}`);
  }
  if (stopping) return;

  const chat = createChat({
    providerUrl: config.providerUrl,
    apiKey: config.apiKey,
    model: config.model,
    toolDefinitions,
    callTool: (name, input, options) => toolsClient.callTool(name, input, options),
    idleTimeoutMs: config.idleTimeoutMs,
    maxRetries: config.maxRetries,
    log,
  });

  // Both wires count against one limit of streams in flight, and share the stall limit.
  const gate = createStreamGate(config.maxStreams);
  server = createChatServer({
    chat,
    token: config.token,
    log,
    clientStallMs: config.clientStallMs,
    gate,
  });
  // The `frames` wire (docs/frames.md): the same chat, multiplexed on upgraded connections.
  frames = acceptFrames(server, { chat, authorized: bearerCheck(config.token), log, gate, clientStallMs: config.clientStallMs });
  // Streams last as long as the provider takes; the idle guard in chat.mjs bounds silence.
  server.requestTimeout = 0;
  // Idle keep-alive connections from the parent stay open longer than its pool keeps them
  // (sidecar-host's POOL_IDLE_TIMEOUT, 4 s), so the parent never reuses a connection we are
  // closing.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;

  let url;
  if (config.transport === 'unix') {
    url = await listenUnix(server, config.socketPath);
  } else if (config.listenFd !== undefined) {
    url = await listenOnFd(server, config.listenFd);
  } else {
    url = await listenHttp(server, config.port, config.host);
    if (config.portFile) writePortFile(config.portFile, server.address().port);
  }
  if (stopping) return;
  fs.writeSync(1, `${readyLine({ backend: 'sidecar', url, pid: process.pid })}\n`);
  log(`listening on ${url} (model ${config.model})`);
}

main().catch((error) => {
  log(`cannot start: ${error.message}`);
  process.exit(1);
});
