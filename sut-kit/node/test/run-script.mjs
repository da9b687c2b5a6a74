// Runs one of this package's scripts in a Node process of its own, as a shell user would, and
// collects what it printed. Shared by the test files; not a test file itself (the `test` script
// runs `test/*.test.mjs` only).

import { spawn } from 'node:child_process';

/** Runs `node <script> ...args` with `input` on stdin; resolves to `{code, stdout, stderr}`. */
export function runScript(script, args = [], input = '') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout, stderr }));
    // A script that exits before reading its stdin (a usage error) must not fail the test on EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
