// The sidecar's settings, read once from the environment (docs/architecture.md, "Sidecar").
// Nothing here is ever logged whole: OPENAI_API_KEY and the tokens are secrets.

import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_RETRIES, DEFAULT_MODEL, TOOLS_WAIT_MS } from '../../../contract/js/contract.mjs';

export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function readConfig(env = process.env) {
  const transport = env.LEANSPEC_CHAT_TRANSPORT || (env.LEANSPEC_CHAT_SOCKET ? 'unix' : '');
  if (transport !== 'unix' && transport !== 'http') {
    throw new ConfigError(
      'say where to listen: LEANSPEC_CHAT_SOCKET=<path> (Unix socket) or LEANSPEC_CHAT_TRANSPORT=http',
    );
  }
  if (transport === 'unix' && !env.LEANSPEC_CHAT_SOCKET) {
    throw new ConfigError('LEANSPEC_CHAT_TRANSPORT=unix needs LEANSPEC_CHAT_SOCKET=<path>');
  }
  const token = env.LEANSPEC_CHAT_TOKEN || undefined;
  if (transport === 'http' && !token) {
    throw new ConfigError(
      'http mode needs LEANSPEC_CHAT_TOKEN (a per-launch random secret the parent also knows)',
    );
  }
  const providerUrl = env.LEANSPEC_PROVIDER_URL;
  if (!providerUrl) {
    throw new ConfigError('set LEANSPEC_PROVIDER_URL to the OpenAI-compatible base URL (…/v1)');
  }
  return {
    transport,
    socketPath: transport === 'unix' ? env.LEANSPEC_CHAT_SOCKET : undefined,
    port: transport === 'http' ? parsePort(env.LEANSPEC_CHAT_PORT) : undefined,
    // Loopback unless a deployment puts the sidecar on a network of its own with the server
    // (docs/deploy.md#http): the token then crosses that network in clear text.
    host: transport === 'http' ? parseHost(env.LEANSPEC_CHAT_HOST) : undefined,
    portFile: env.LEANSPEC_CHAT_PORT_FILE || undefined,
    // A listening socket made for us by the Rust server (whose connections inherit the send
    // buffer it capped, which Node cannot set: docs/readers.md#the-sidecars-own-socket). When
    // set, port and host are the socket's own.
    listenFd: transport === 'http' ? parseCount('LEANSPEC_CHAT_FD', env.LEANSPEC_CHAT_FD, undefined) : undefined,
    token,
    providerUrl,
    model: env.LEANSPEC_MODEL || DEFAULT_MODEL,
    apiKey: env.OPENAI_API_KEY ?? '',
    maxRetries: parseCount('LEANSPEC_MAX_RETRIES', env.LEANSPEC_MAX_RETRIES, DEFAULT_MAX_RETRIES),
    idleTimeoutMs: parsePositive('LEANSPEC_IDLE_TIMEOUT_MS', env.LEANSPEC_IDLE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS),
    // Unset: limits.mjs's CLIENT_STALL_MS.
    clientStallMs: parsePositive('LEANSPEC_CLIENT_STALL_MS', env.LEANSPEC_CLIENT_STALL_MS, undefined),
    // Unset: limits.mjs's MAX_STREAMS.
    maxStreams: parsePositive('LEANSPEC_MAX_STREAMS', env.LEANSPEC_MAX_STREAMS, undefined),
    tools: {
      socketPath: env.LEANSPEC_TOOLS_SOCKET || undefined,
      url: env.LEANSPEC_TOOLS_URL || undefined,
      token: env.LEANSPEC_TOOLS_TOKEN || undefined,
      waitMs: parsePositive('LEANSPEC_TOOLS_WAIT_MS', env.LEANSPEC_TOOLS_WAIT_MS, TOOLS_WAIT_MS),
    },
    noTools: env.LEANSPEC_NO_TOOLS === '1',
    stdinLifeline: env.LEANSPEC_STDIN_LIFELINE === '1',
    parentPid: env.LEANSPEC_PARENT_PID ? parsePid(env.LEANSPEC_PARENT_PID) : undefined,
  };
}

function parseHost(value) {
  if (value === undefined || value === '') return '127.0.0.1';
  if (!/^[0-9a-fA-F.:]+$/.test(value)) {
    throw new ConfigError(`LEANSPEC_CHAT_HOST must be an IP address, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parsePort(value) {
  if (value === undefined || value === '') return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`LEANSPEC_CHAT_PORT must be a port number (0-65535), got ${JSON.stringify(value)}`);
  }
  return port;
}

function parsePid(value) {
  const pid = Number(value);
  if (!Number.isInteger(pid) || pid <= 1) {
    throw new ConfigError(`LEANSPEC_PARENT_PID must be a process id above 1, got ${JSON.stringify(value)}`);
  }
  return pid;
}

function parseCount(name, value, fallback) {
  if (value === undefined || value === '') return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0) {
    throw new ConfigError(`${name} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
  }
  return count;
}

function parsePositive(name, value, fallback) {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new ConfigError(`${name} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return number;
}
