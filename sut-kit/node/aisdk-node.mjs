#!/usr/bin/env node
// `aisdk-node`: the AI SDK in one plain Node.js process, no Rust anywhere: what a team would run
// if it dropped the Rust server. The bench stage measures it beside the four backends so that a
// backend's cost splits into what the AI SDK costs (this process) and what the inter-process hop
// costs (the backend minus this process; docs/bench.md).
//
// It runs the sidecar's own code, so the only difference to the sidecar is the missing hop: the
// chat function (`createChat`, backends/sidecar/src/chat.mjs, the same source the bundles napi
// and the sidecar run are built from), the sidecar's HTTP routes (routes.mjs: body limits, abort
// on close, `pipeUIMessageStreamToResponse`), listening on loopback TCP for the client itself.
// Tools run in this process (lib/fake-tools.mjs: the project's tools in JS over a small corpus),
// or with `--tools-rest URL` through a backend's REST routes, as reference-chat.mjs reaches them.
//
// CLI: node sut-kit/node/aisdk-node.mjs --provider-url URL [--listen 127.0.0.1:0] [--model M]
//        [--tools-rest URL]
// Stdout: one ready line, {"event":"ready","backend":"aisdk-node","url":...,"pid":...}, like every
// backend's (contract::ready). Logs on stderr; SIGTERM/SIGINT stop it.

import http from 'node:http';
import { parseArgs } from 'node:util';

import { createChat } from '../../backends/sidecar/src/chat.mjs';
import { createRequestHandler } from '../../backends/sidecar/src/routes.mjs';
import { isMain, runMain, UsageError } from './lib/cli.mjs';
import { fakeTools } from './lib/fake-tools.mjs';
import { loadRestTools } from './lib/rest-tools.mjs';
import { ToolFailure } from './lib/ui-error-text.mjs';

const USAGE = `usage: node aisdk-node.mjs --provider-url URL [--listen HOST:PORT] [--model M]
         [--tools-rest URL]
`;
const NAME = 'aisdk-node';
const DEFAULT_MODEL = 'mock-gpt';
const log = line => process.stderr.write(`${NAME}[${process.pid}]: ${line}\n`);

/**
 * AI SDK tools as the chat function takes them: definitions (name, description, JSON Schema) and
 * one `callTool` that answers a ToolOutcome, as the Rust side's tool listener does.
 */
export function asToolOutcomes(tools) {
  const toolDefinitions = Object.entries(tools).map(([name, t]) => ({
    name,
    description: t.description,
    input_schema: t.inputSchema.jsonSchema,
  }));
  const callTool = async (name, input, options = {}) => {
    const t = tools[name];
    if (t == null) return { status: 'error', message: `unknown tool: ${name}` };
    try {
      return { status: 'ok', output: await t.execute(input, { abortSignal: options.abortSignal }) };
    } catch (error) {
      if (error instanceof ToolFailure) return { status: 'error', message: error.message };
      throw error;
    }
  };
  return { toolDefinitions, callTool };
}

function parseListen(value) {
  const at = value.lastIndexOf(':');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--listen wants HOST:PORT, got ${JSON.stringify(value)}`);
  }
  return { host: value.slice(0, at), port };
}

async function main() {
  const { values } = parseArgs({
    options: {
      'provider-url': { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:0' },
      model: { type: 'string', default: DEFAULT_MODEL },
      'tools-rest': { type: 'string' },
    },
  });
  if (!values['provider-url']) throw new UsageError('--provider-url is required');
  const { host, port } = parseListen(values.listen);
  const tools = values['tools-rest'] ? await loadRestTools(values['tools-rest']) : fakeTools();
  const { toolDefinitions, callTool } = asToolOutcomes(tools);
  const chat = createChat({
    providerUrl: values['provider-url'],
    apiKey: process.env.OPENAI_API_KEY ?? '',
    model: values.model,
    toolDefinitions,
    callTool,
    log,
  });
  const server = http.createServer(createRequestHandler({ chat, log }));
  server.requestTimeout = 0;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const url = `http://${host}:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ event: 'ready', backend: NAME, url, pid: process.pid })}\n`);
  log(`listening on ${url}, tools ${values['tools-rest'] ? `via ${values['tools-rest']}` : 'in process'}`);
  await new Promise(() => {});
}

if (isMain(import.meta.url)) runMain(main, USAGE);
