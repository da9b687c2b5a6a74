// When the sidecar stops: SIGTERM/SIGINT, its parent gone, or its stdin pipe closed.
//
// The Rust server supervises the sidecar, so the sidecar must never outlive it, even when the
// parent is SIGKILLed and cannot clean up. Two independent signals cover that:
// - `LEANSPEC_PARENT_PID`: polled every PARENT_POLL_MS; the parent counts as gone when
//   `kill(pid, 0)` fails with ESRCH, or when we were its child and have been re-parented (which
//   also catches a recycled pid).
// - stdin, when the parent asks for it (`LEANSPEC_STDIN_LIFELINE=1`) and stdin is a pipe or a
//   socket pair: the kernel closes a pipe when its writer dies, so a parent that keeps our stdin
//   open gets "exit when I die" for free. Opt-in, because an inherited stdin may be an empty
//   pipe already at its end (`cmd < /dev/null` is fine, `echo | cmd` is not): watching it
//   unasked would make the sidecar exit the moment it starts.

import fs from 'node:fs';

export const PARENT_POLL_MS = 250;

export function watchParent(parentPid, onGone) {
  const wasChild = process.ppid === parentPid;
  const timer = setInterval(() => {
    if (!isAlive(parentPid) || (wasChild && process.ppid !== parentPid)) {
      clearInterval(timer);
      onGone(`parent process ${parentPid} is gone`);
    }
  }, PARENT_POLL_MS);
  timer.unref();
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Returns true when stdin is a pipe and is now watched. */
export function watchStdinPipe(onClosed) {
  let isPipe = false;
  try {
    const stat = fs.fstatSync(0);
    // Rust's `Stdio::piped()` gives a FIFO; Node's `stdio: 'pipe'` gives a socket pair.
    isPipe = stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
  if (!isPipe) return false;
  process.stdin.on('data', () => {}); // input is ignored; reading lets us see the end
  process.stdin.once('end', () => onClosed('stdin closed'));
  process.stdin.once('error', () => onClosed('stdin failed'));
  return true;
}

export function onTerminationSignals(onSignal) {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.once(signal, () => onSignal(`received ${signal}`));
  }
}
