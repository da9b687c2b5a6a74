// Unix-socket mode: permissions, stale and live sockets, and every way the process must end.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startStubProvider } from './support/stub-provider.mjs';
import { chatBody, privateTempDir, request, startSidecar, targetOf, waitForOutput, SUITE_TIMEOUT_MS } from './support/sidecar.mjs';

/** docs/design.md#shutdown: SIGTERM shuts the process down within 2 s. */
const SIGTERM_DEADLINE_MS = 2000;
/** Guards against a hang only: the parent poll runs every 250 ms. */
const EXIT_TIMEOUT_MS = 10_000;

describe('unix mode', { timeout: SUITE_TIMEOUT_MS }, () => {
  let provider;
  let dir;
  const env = (socketPath, extra = {}) => ({
    LEANSPEC_CHAT_SOCKET: socketPath,
    LEANSPEC_PROVIDER_URL: provider.url,
    LEANSPEC_NO_TOOLS: '1',
    ...extra,
  });
  const running = [];
  const start = async (...args) => {
    const handle = await startSidecar(...args);
    running.push(handle);
    return handle;
  };

  before(async () => {
    provider = await startStubProvider();
    dir = privateTempDir();
  });

  after(async () => {
    await Promise.all(running.map((h) => h.stop()));
    await provider.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('creates an owner-only directory and a 0600 socket, and serves on it', async () => {
    const socketPath = path.join(dir, 'fresh', 'nested', 'chat.sock');
    const sidecar = await start(env(socketPath));
    assert.equal(sidecar.ready.url, `unix:${socketPath}`);
    assert.equal(sidecar.ready.backend, 'sidecar');
    assert.equal(sidecar.ready.pid, sidecar.child.pid);
    assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
    const health = await request(targetOf(sidecar.ready.url), { path: '/health' });
    assert.equal(health.status, 200);
    await sidecar.stop();
  });

  test('refuses a socket directory that others can enter', async () => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(open, 0o755);
    const sidecar = await start(env(path.join(open, 'chat.sock')), { waitReady: false });
    const { code } = await sidecar.exited;
    assert.notEqual(code, 0);
    assert.match(sidecar.output.stderr, /mode 0755: others can use it/);
    assert.equal(sidecar.output.stdout, '', 'no ready line');
    assert.ok(!fs.existsSync(path.join(open, 'chat.sock')));
  });

  test('refuses to remove a path that is not a socket', async () => {
    const socketPath = path.join(dir, 'regular-file');
    fs.writeFileSync(socketPath, 'keep me');
    const sidecar = await start(env(socketPath), { waitReady: false });
    assert.notEqual((await sidecar.exited).code, 0);
    assert.match(sidecar.output.stderr, /is not a socket; not removing it/);
    assert.equal(fs.readFileSync(socketPath, 'utf8'), 'keep me');
  });

  test('refuses a socket path longer than a Unix socket address holds', async () => {
    const sidecar = await start(env(path.join(dir, 'x'.repeat(120), 'chat.sock')), { waitReady: false });
    assert.notEqual((await sidecar.exited).code, 0);
    assert.match(sidecar.output.stderr, /Unix sockets allow 107: choose a shorter path/);
  });

  test('replaces a stale socket file nobody accepts on', async () => {
    const socketPath = path.join(dir, 'stale.sock');
    await leaveStaleSocket(socketPath);
    assert.ok(fs.lstatSync(socketPath).isSocket());
    const sidecar = await start(env(socketPath));
    const health = await request(targetOf(sidecar.ready.url), { path: '/health' });
    assert.equal(health.status, 200);
    await sidecar.stop();
  });

  test('does not steal a live socket', async () => {
    const socketPath = path.join(dir, 'live.sock');
    const owner = net.createServer((socket) => {
      socket.on('error', () => {}); // the sidecar's probe hangs up abruptly
      socket.end('still mine');
    });
    await new Promise((resolve) => owner.listen(socketPath, resolve));
    try {
      const sidecar = await start(env(socketPath), { waitReady: false });
      assert.notEqual((await sidecar.exited).code, 0);
      assert.match(sidecar.output.stderr, /another process is serving on/);
      const greeting = await new Promise((resolve, reject) => {
        const client = net.connect(socketPath);
        let text = '';
        client.on('data', (d) => (text += d));
        client.on('end', () => resolve(text));
        client.on('error', reject);
      });
      assert.equal(greeting, 'still mine');
    } finally {
      await new Promise((resolve) => owner.close(resolve));
    }
  });

  test('SIGTERM ends it within 2 s, with a stream in flight, and removes the socket', async () => {
    const socketPath = path.join(dir, 'term.sock');
    const sidecar = await start(env(socketPath));
    const streaming = await openStalledStream(targetOf(sidecar.ready.url));
    const started = performance.now();
    sidecar.child.kill('SIGTERM');
    const { code } = await sidecar.exited;
    const elapsed = performance.now() - started;
    assert.equal(code, 0);
    assert.ok(elapsed < SIGTERM_DEADLINE_MS, `took ${elapsed.toFixed(0)} ms`);
    assert.ok(!fs.existsSync(socketPath), 'socket file removed');
    streaming.destroy();
  });

  test('exits when the process named by LEANSPEC_PARENT_PID dies', async () => {
    const parent = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const sidecar = await start(env(path.join(dir, 'orphan.sock'), { LEANSPEC_PARENT_PID: String(parent.pid) }));
      parent.kill('SIGKILL');
      const { code } = await withTimeout(sidecar.exited, EXIT_TIMEOUT_MS, 'sidecar outlived its parent');
      assert.equal(code, 0);
      assert.match(sidecar.output.stderr, new RegExp(`parent process ${parent.pid} is gone`));
    } finally {
      parent.kill('SIGKILL');
    }
  });

  test('ignores stdin unless asked to watch it', async () => {
    const sidecar = await start(env(path.join(dir, 'stdin-ignored.sock')), { stdin: 'pipe' });
    sidecar.child.stdin.end();
    // Still serving after stdin closed: a request round trip proves it.
    const health = await request(targetOf(sidecar.ready.url), { path: '/health' });
    assert.equal(health.status, 200);
    assert.equal(sidecar.child.exitCode, null);
    await sidecar.stop();
  });

  test('with LEANSPEC_STDIN_LIFELINE=1, exits when its stdin pipe closes', async () => {
    const sidecar = await start(env(path.join(dir, 'stdin.sock'), { LEANSPEC_STDIN_LIFELINE: '1' }), { stdin: 'pipe' });
    await waitForOutput(sidecar, (o) => o.stderr.includes('will exit when the stdin pipe closes'));
    sidecar.child.stdin.end();
    const { code } = await withTimeout(sidecar.exited, EXIT_TIMEOUT_MS, 'sidecar ignored stdin closing');
    assert.equal(code, 0);
    assert.match(sidecar.output.stderr, /stopping: stdin closed/);
  });
});

/** A socket file left behind by a process that died without cleaning up. */
async function leaveStaleSocket(socketPath) {
  const child = spawn(
    process.execPath,
    ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", socketPath],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A chat request whose provider never finishes; resolves once the stream has begun. */
function openStalledStream(target) {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method: 'POST', path: '/api/chat', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.on('response', (res) => {
      res.on('error', () => {});
      res.on('data', (chunk) => {
        if (String(chunk).includes('waiting')) resolve(req);
      });
    });
    req.on('close', () => reject(new Error('stream closed before it began')));
    req.end(JSON.stringify(chatBody('Wait [[scenario:stall]]')));
  });
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
