// Starting the sidecar as a child process and talking to it, for the tests.
//
// The sidecar under test is the bundle (`dist/server.mjs`, what ships; `npm test` builds it
// first) unless SIDECAR_ENTRY names another entry, e.g. `src/server.mjs`.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ENTRY = path.resolve(PACKAGE_DIR, process.env.SIDECAR_ENTRY ?? 'dist/server.mjs');
/** Guards against a hang only; a healthy start takes well under a second. */
const READY_TIMEOUT_MS = 20_000;

/** Guards each suite against a hang; a healthy suite takes a few seconds. */
export const SUITE_TIMEOUT_MS = 120_000;

export const CANARY_KEY = 'sk-canary-7f3a9c1e5b2d4f60a8c7e9d1b3f5a7c9';

/** A fresh private directory (0700) for sockets and port files. */
export function privateTempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-test-'));
}

/**
 * Spawns the sidecar. Resolves once it printed its ready line (never sleep-then-connect), or
 * rejects with its stderr if it exited first. `stdin` defaults to 'ignore' (not watched).
 */
export function startSidecar(env, { stdin = 'ignore', waitReady = true } = {}) {
  const child = spawn(process.execPath, [ENTRY], {
    env: { PATH: process.env.PATH, OPENAI_API_KEY: CANARY_KEY, ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (output.stdout += d));
  child.stderr.on('data', (d) => (output.stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const handle = { child, output, exited, stop: () => stopChild(child, exited) };
  if (!waitReady) return Promise.resolve(handle);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within ${READY_TIMEOUT_MS} ms; stderr:\n${output.stderr}`)), READY_TIMEOUT_MS);
    const onData = () => {
      const line = output.stdout.split('\n').find((l) => l.includes('"event":"ready"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      handle.ready = JSON.parse(line);
      resolve(handle);
    };
    child.stdout.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited (code ${code}, signal ${signal}) before ready; stderr:\n${output.stderr}`));
    });
  });
}

async function stopChild(child, exited) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
}

/** Where `request` sends to, from a ready line's url. */
export function targetOf(url) {
  if (url.startsWith('unix:')) return { socketPath: url.slice(5) };
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
}

/** One HTTP request; resolves with the whole answer. */
export function request(target, { method = 'GET', path: urlPath = '/', headers = {}, body, signal } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ ...target, method, path: urlPath, headers: { 'content-type': 'application/json', ...headers }, signal, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.end(payload);
  });
}

/** The UI chunks of an SSE body (`data: <json>` events), and whether it ended with [DONE]. */
export function parseSse(text) {
  const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  const done = events.at(-1) === '[DONE]';
  return { chunks: events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e)), done };
}

/** A useChat body with one user message. */
export function chatBody(text) {
  return {
    id: 'chat-1',
    trigger: 'submit-message',
    messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text }] }],
  };
}

/** Resolves when `predicate(output)` holds, checked on every output of the child. */
export function waitForOutput(handle, predicate, timeoutMs = READY_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate(handle.output)) {
        cleanup();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`expected output did not come; stderr:\n${handle.output.stderr}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      handle.child.stdout.off('data', check);
      handle.child.stderr.off('data', check);
    };
    handle.child.stdout.on('data', check);
    handle.child.stderr.on('data', check);
    check();
  });
}
