// Starts the `mock-provider` binary for a test: waits for its ready line on stdout (never a
// sleep-then-connect), forwards its log to our stderr only when asked, and stops it by pid.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** How long the mock may take to print its ready line: generous, only a guard against a hang. */
const READY_TIMEOUT_MS = 15_000;

/** The binary to start: `MOCK_PROVIDER_BIN`, else the workspace's debug build. */
export function mockProviderBinary() {
  return process.env.MOCK_PROVIDER_BIN || `${REPO_ROOT}target/debug/mock-provider`;
}

/**
 * Starts the mock on a free loopback port. Resolves to `{url, baseUrl, pid, stop()}` once it
 * printed `{"event":"ready",...}`; rejects with a message saying what to do otherwise.
 */
export async function startMockProvider({ binary = mockProviderBinary(), showLogs = Boolean(process.env.MOCK_PROVIDER_LOGS) } = {}) {
  if (!existsSync(binary)) {
    throw new Error(`mock provider binary not found at ${binary}: run \`cargo build -p mock-provider\` first (or set MOCK_PROVIDER_BIN)`);
  }
  const child = spawn(binary, ['--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', showLogs ? 'inherit' : 'ignore'] });
  const stop = () =>
    new Promise(resolve => {
      if (child.exitCode != null || child.signalCode != null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });

  try {
    const ready = await readyLine(child);
    if (ready.event !== 'ready' || typeof ready.url !== 'string') {
      throw new Error(`mock provider printed an unexpected first line: ${JSON.stringify(ready)}`);
    }
    return { url: ready.url, baseUrl: `${ready.url}/v1`, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function readyLine(child) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => fail(new Error(`mock provider printed no ready line within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const onExit = (code, signal) => fail(new Error(`mock provider exited (code ${code}, signal ${signal}) before its ready line`));
    function done() {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', fail);
      lines.close();
      // Keep draining stdout so a chatty mock can never block on a full pipe.
      child.stdout.resume();
    }
    function fail(error) {
      done();
      reject(error);
    }
    child.once('exit', onExit);
    child.once('error', fail);
    lines.once('line', line => {
      done();
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`mock provider's first stdout line is not JSON: ${line}`));
      }
    });
  });
}
